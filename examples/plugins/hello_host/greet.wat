;; Reads a name from the call data and returns "hello, <name>" from the hello_host plugin.
(module
  (import "hello" "greet" (func $greet (param i32 i32 i32) (result i32)))
  (import "supervm" "input_len" (func $input_len (result i32)))
  (import "supervm" "read_input" (func $read_input (param i32)))
  (import "supervm" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "call")
    (call $read_input (i32.const 0))
    (call $ret (i32.const 1024)
      (call $greet (i32.const 0) (call $input_len) (i32.const 1024)))))
