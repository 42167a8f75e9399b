;; The contract tests/chain/test_pipeline_model.py and test_crash_safety.py deploy.
;;
;; deploy: stores its input (the ABI-encoded constructor argument) under "init".
;; call: calldata = op (1 byte) | key (1 byte) | value (8 bytes, little-endian), at most 64 bytes
;;   op 1: set "s"+key to the 8-byte value
;;   op 2: increment the 8-byte little-endian counter under "s"+key (absent: 0), return it
;;   op 3: storage_add 1 (as a 32-byte little-endian number) to "a"+key
;;   op 4: delete "s"+key
;;   op 5: set "s"+key to the value, then revert with "no" (the write must not survive)
;;   any other op, calldata shorter than 2 or longer than 64 bytes: trap
(module
  (import "supervm" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "supervm" "storage_read_value" (func $read (param i32 i32) (result i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "storage_delete" (func $del (param i32 i32) (result i32)))
  (import "supervm" "storage_add" (func $add (param i32 i32 i32) (result i32)))
  (import "supervm" "input_len" (func $input_len (result i32)))
  (import "supervm" "read_input" (func $read_input (param i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (import "supervm" "revert" (func $revert (param i32 i32)))
  (memory (export "memory") 1)
  ;; 0: "init"; 8: "s"/"a" key (2 bytes); 16: value (8 bytes); 32: amount 1 (32 bytes);
  ;; 64: "no"; 128: input
  (data (i32.const 0) "init")
  (data (i32.const 32) "\01")
  (data (i32.const 64) "no")
  (func (export "deploy")
    (call $read_input (i32.const 128))
    (drop (call $set (i32.const 0) (i32.const 4) (i32.const 128) (call $input_len))))
  (func (export "call")
    (local $op i32)
    (if (i32.lt_u (call $input_len) (i32.const 2)) (then unreachable))
    (if (i32.gt_u (call $input_len) (i32.const 64)) (then unreachable))
    (call $read_input (i32.const 128))
    (local.set $op (i32.load8_u (i32.const 128)))
    (i32.store8 (i32.const 8) (i32.const 0x73))  ;; "s"
    (i32.store8 (i32.const 9) (i32.load8_u (i32.const 129)))
    (if (i32.eq (local.get $op) (i32.const 1))
      (then
        (i64.store (i32.const 16) (i64.load (i32.const 130)))
        (drop (call $set (i32.const 8) (i32.const 2) (i32.const 16) (i32.const 8)))
        (return)))
    (if (i32.eq (local.get $op) (i32.const 2))
      (then
        (i64.store (i32.const 16) (i64.const 0))
        (if (i64.eq (call $get (i32.const 8) (i32.const 2)) (i64.const 8))
          (then (drop (call $read (i32.const 16) (i32.const 8)))))
        (i64.store (i32.const 16) (i64.add (i64.load (i32.const 16)) (i64.const 1)))
        (drop (call $set (i32.const 8) (i32.const 2) (i32.const 16) (i32.const 8)))
        (call $ret (i32.const 16) (i32.const 8))
        (return)))
    (if (i32.eq (local.get $op) (i32.const 3))
      (then
        (i32.store8 (i32.const 8) (i32.const 0x61))  ;; "a"
        (drop (call $add (i32.const 8) (i32.const 2) (i32.const 32)))
        (return)))
    (if (i32.eq (local.get $op) (i32.const 4))
      (then
        (drop (call $del (i32.const 8) (i32.const 2)))
        (return)))
    (if (i32.eq (local.get $op) (i32.const 5))
      (then
        (i64.store (i32.const 16) (i64.load (i32.const 130)))
        (drop (call $set (i32.const 8) (i32.const 2) (i32.const 16) (i32.const 8)))
        (call $revert (i32.const 64) (i32.const 2))
        (return)))
    unreachable))
