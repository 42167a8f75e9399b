// The few declarations of wasmtime's C API (version 50) that the native path uses.
//
// The `wasmtime` wheel ships `_libwasmtime.so` but no headers, so these are written by hand from
// the C API's headers of that version. The library is not linked at build time: `bind` resolves
// every function with dlsym from the copy the `wasmtime` package has already loaded, so the
// native path and the Python path share one library (and one engine). The struct layouts below
// are checked at import against `wasmtime._bindings` (see `native_struct_sizes`), and the Python
// side refuses any other wasmtime version than the pinned one.
#ifndef SUPERVM_WASMTIME_API_H
#define SUPERVM_WASMTIME_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wasm_engine_t wasm_engine_t;
typedef struct wasmtime_store wasmtime_store_t;
typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_linker wasmtime_linker_t;
typedef struct wasmtime_module wasmtime_module_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasm_trap_t wasm_trap_t;
typedef struct wasmtime_caller wasmtime_caller_t;
typedef struct wasmtime_instance_pre wasmtime_instance_pre_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasm_valtype_t wasm_valtype_t;
typedef struct wasmtime_sharedmemory wasmtime_sharedmemory_t;

typedef struct {
  size_t size;
  uint8_t *data;
} wasm_byte_vec_t;

typedef struct {
  size_t size;
  wasm_valtype_t **data;
} wasm_valtype_vec_t;

typedef struct {
  uint64_t store_id;
  void *private_;
} wasmtime_func_t;

typedef struct {
  uint64_t store_id;
  size_t private_;
} wasmtime_instance_t;

typedef struct {
  struct {
    uint64_t store_id;
    uint32_t private1;
  } anon;
  uint32_t private2;
} wasmtime_memory_t;

typedef wasmtime_memory_t wasmtime_table_t;

typedef struct {
  uint64_t store_id;
  uint32_t private1, private2, private3;
} wasmtime_global_t;

typedef wasmtime_memory_t wasmtime_tag_t;

typedef union {
  wasmtime_func_t func;
  wasmtime_global_t global;
  wasmtime_table_t table;
  wasmtime_memory_t memory;
  wasmtime_sharedmemory_t *sharedmemory;
  wasmtime_tag_t tag;
} wasmtime_extern_union_t;

typedef struct {
  uint8_t kind;
  wasmtime_extern_union_t of;
} wasmtime_extern_t;

typedef union {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
  uint8_t v128[16];
  uint32_t anyref;
  uint32_t externref;
  uint32_t exnref;
  void *funcref;
} wasmtime_val_raw_t;

typedef wasm_trap_t *(*wasmtime_func_unchecked_callback_t)(void *env, wasmtime_caller_t *caller,
                                                           wasmtime_val_raw_t *args_and_results,
                                                           size_t num_args_and_results);

#define WASMTIME_EXTERN_FUNC 0
#define WASMTIME_EXTERN_MEMORY 3
#define WASM_I32 0
#define WASM_I64 1

// Trap codes (wasmtime_trap_code_enum of version 50).
#define WASMTIME_TRAP_CODE_INTERRUPT 10
#define WASMTIME_TRAP_CODE_OUT_OF_FUEL 11

// The function table `bind` fills. One entry per C API function used; the X-macro keeps the
// declaration, the dlsym and the error message in one list.
#define WASMTIME_FUNCTIONS(X)                                                                      \
  X(wasmtime_linker_t *, wasmtime_linker_new, (wasm_engine_t *))                                  \
  X(void, wasmtime_linker_delete, (wasmtime_linker_t *))                                          \
  X(wasmtime_error_t *, wasmtime_linker_define_func_unchecked,                                    \
    (wasmtime_linker_t *, const char *, size_t, const char *, size_t, const wasm_functype_t *,   \
     wasmtime_func_unchecked_callback_t, void *, void (*)(void *)))                               \
  X(wasmtime_error_t *, wasmtime_linker_instantiate_pre,                                          \
    (const wasmtime_linker_t *, const wasmtime_module_t *, wasmtime_instance_pre_t **))           \
  X(void, wasmtime_instance_pre_delete, (wasmtime_instance_pre_t *))                              \
  X(wasmtime_error_t *, wasmtime_instance_pre_instantiate,                                        \
    (const wasmtime_instance_pre_t *, wasmtime_context_t *, wasmtime_instance_t *,               \
     wasm_trap_t **))                                                                             \
  X(wasm_valtype_t *, wasm_valtype_new, (uint8_t))                                                \
  X(void, wasm_valtype_vec_new, (wasm_valtype_vec_t *, size_t, wasm_valtype_t *const[]))          \
  X(void, wasm_valtype_vec_new_empty, (wasm_valtype_vec_t *))                                     \
  X(wasm_functype_t *, wasm_functype_new, (wasm_valtype_vec_t *, wasm_valtype_vec_t *))           \
  X(void, wasm_functype_delete, (wasm_functype_t *))                                              \
  X(wasmtime_store_t *, wasmtime_store_new, (wasm_engine_t *, void *, void (*)(void *)))         \
  X(void, wasmtime_store_delete, (wasmtime_store_t *))                                            \
  X(wasmtime_context_t *, wasmtime_store_context, (wasmtime_store_t *))                           \
  X(bool, wasmtime_instance_export_get,                                                           \
    (wasmtime_context_t *, const wasmtime_instance_t *, const char *, size_t,                     \
     wasmtime_extern_t *))                                                                        \
  X(uint8_t *, wasmtime_memory_data, (const wasmtime_context_t *, const wasmtime_memory_t *))     \
  X(size_t, wasmtime_memory_data_size, (const wasmtime_context_t *, const wasmtime_memory_t *))   \
  X(wasmtime_error_t *, wasmtime_func_call_unchecked,                                             \
    (wasmtime_context_t *, const wasmtime_func_t *, wasmtime_val_raw_t *, size_t,                 \
     wasm_trap_t **))                                                                             \
  X(wasmtime_error_t *, wasmtime_context_set_fuel, (wasmtime_context_t *, uint64_t))              \
  X(wasmtime_error_t *, wasmtime_context_get_fuel, (const wasmtime_context_t *, uint64_t *))      \
  X(void, wasmtime_context_set_epoch_deadline, (wasmtime_context_t *, uint64_t))                  \
  X(wasm_trap_t *, wasmtime_trap_new, (const char *, size_t))                                     \
  X(bool, wasmtime_trap_code, (const wasm_trap_t *, uint8_t *))                                   \
  X(void, wasm_trap_message, (const wasm_trap_t *, wasm_byte_vec_t *))                            \
  X(void, wasm_trap_delete, (wasm_trap_t *))                                                      \
  X(void, wasmtime_error_message, (const wasmtime_error_t *, wasm_byte_vec_t *))                  \
  X(void, wasmtime_error_delete, (wasmtime_error_t *))                                            \
  X(void, wasm_byte_vec_delete, (wasm_byte_vec_t *))

#define WASMTIME_DECLARE(ret, name, args) ret(*name) args;
typedef struct {
  WASMTIME_FUNCTIONS(WASMTIME_DECLARE)
} WasmtimeApi;
#undef WASMTIME_DECLARE

#endif
