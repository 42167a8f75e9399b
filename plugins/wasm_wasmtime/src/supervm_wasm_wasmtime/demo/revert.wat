;; Writes a key, then reverts with a reason: the write must not survive.
(module
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "revert" (func $revert (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "keyvalue")
  (data (i32.const 32) "insufficient balance")
  (func (export "call")
    (drop (call $set (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 5)))
    (call $revert (i32.const 32) (i32.const 20))))
