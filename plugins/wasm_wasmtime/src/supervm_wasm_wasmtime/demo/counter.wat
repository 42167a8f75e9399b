;; A storage counter: each `call` reads the 8-byte little-endian counter under "count",
;; adds one, stores it back and returns the new value as return data.
(module
  (import "supervm" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "supervm" "storage_read_value" (func $read (param i32 i32) (result i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (func $bump (result i64)
    (if (i64.eq (call $get (i32.const 0) (i32.const 5)) (i64.const 8))
      (then (drop (call $read (i32.const 16) (i32.const 8)))))
    (i64.store (i32.const 16) (i64.add (i64.load (i32.const 16)) (i64.const 1)))
    (drop (call $set (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8)))
    (i64.load (i32.const 16)))
  ;; Transaction entry: bump and return the counter as 8 bytes.
  (func (export "call")
    (drop (call $bump))
    (call $ret (i32.const 16) (i32.const 8)))
  ;; The same, callable with integer arguments: returns the new value.
  (func (export "increment") (result i64)
    (call $bump)))
