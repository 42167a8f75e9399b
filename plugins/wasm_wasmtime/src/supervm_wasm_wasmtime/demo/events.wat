;; Emits an opaque event and an Ethereum-style log with two topics, then reads the event back
;; through events_len/read_event and returns it as return data.
(module
  (import "supervm" "emit_event" (func $emit (param i32 i32) (result i32)))
  (import "supervm" "events_len" (func $events_len (result i32)))
  (import "supervm" "read_event" (func $read_event (param i32 i32 i32) (result i32)))
  (import "supervm" "emit_log" (func $log (param i32 i32 i32 i32) (result i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello, events")
  ;; two 32-byte topics at 64 and 96
  (data (i32.const 64) "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\01")
  (data (i32.const 96) "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\02")
  (func (export "call")
    (local $n i32)
    (drop (call $emit (i32.const 0) (i32.const 13)))
    (drop (call $log (i32.const 64) (i32.const 2) (i32.const 0) (i32.const 5)))
    (local.set $n (call $read_event (i32.sub (call $events_len) (i32.const 1)) (i32.const 256) (i32.const 64)))
    (call $ret (i32.const 256) (local.get $n))))
