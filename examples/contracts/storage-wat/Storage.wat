;; An ABI-speaking contract written by hand in WAT: Solidity's classic "Storage" example.
;;   constructor(uint256 initial)   -- the `deploy` export
;;   store(uint256 value)           -- selector 0x6057361d, emits Stored(uint256)
;;   retrieve() returns (uint256)   -- selector 0x2e64cec1
;; Unknown selectors revert with Error("unknown selector").
(module
  (import "supervm" "input_len" (func $input_len (result i32)))
  (import "supervm" "read_input" (func $read_input (param i32)))
  (import "supervm" "storage_get" (func $get (param i32 i32) (result i64)))
  (import "supervm" "storage_read_value" (func $read (param i32 i32) (result i32)))
  (import "supervm" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "emit_log" (func $log (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (import "supervm" "revert" (func $revert (param i32 i32)))
  (memory (export "memory") 1)
  ;; 0: storage key "v"; 32: topic0 = keccak256("Stored(uint256)"); 64: Error("unknown selector")
  (data (i32.const 0) "v")
  (data (i32.const 32) "\c6\d8\c0\af\6d\21\f2\91\e7\c3\59\60\3a\a9\7e\0e\d5\00\f0\4d\b6\e9\83\b9\fc\e7\5a\91\c6\b8\da\6b")
  (data (i32.const 64) "\08\c3\79\a0"
    "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\20"
    "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\10"
    "unknown selector\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  ;; input is read to 1024: selector at 1024, first argument word at 1028
  (func (export "deploy")
    (call $read_input (i32.const 1024))
    (drop (call $set (i32.const 0) (i32.const 1) (i32.const 1024) (i32.const 32))))
  (func (export "call")
    (local $sel i32)
    (call $read_input (i32.const 1024))
    (local.set $sel (i32.load (i32.const 1024)))
    (if (i32.eq (local.get $sel) (i32.const 0x1d365760))       ;; store(uint256)
      (then
        (drop (call $set (i32.const 0) (i32.const 1) (i32.const 1028) (i32.const 32)))
        (drop (call $log (i32.const 32) (i32.const 1) (i32.const 1028) (i32.const 32)))
        (return)))
    (if (i32.eq (local.get $sel) (i32.const 0xc1ce642e))       ;; retrieve()
      (then
        (if (i64.eq (call $get (i32.const 0) (i32.const 1)) (i64.const 32))
          (then (drop (call $read (i32.const 2048) (i32.const 32)))))
        (call $ret (i32.const 2048) (i32.const 32))
        (return)))
    (call $revert (i32.const 64) (i32.const 100))))
