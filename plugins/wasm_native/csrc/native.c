// supervm_wasm_native._native: SuperVM's hot host functions in C, on wasmtime's C API.
//
// A call on this path crosses from WebAssembly into C for every host call, never into Python,
// except for a storage read of a key the call has not touched yet: that is a miss, filled with
// one `state.get(key)` (the state overlay stays the single source of truth). The call's writes
// are buffered here (its snapshot layer, exactly as StateOverlay would hold it: values,
// deletions and pending AddU256 additions) and handed to `state.apply` in one batch when the call
// succeeds; its result objects are built here, once, at its end.
//
// Every host function mirrors supervm_wasm_wasmtime's Python implementation (abi.py, crypto.py,
// frame.py, backend.py): the same order of checks, the same gas charges at the same points, the
// same error messages. The differential tests hold the two paths to that.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hashes.h"
#include "wasmtime_api.h"

// ---- the bound library ---------------------------------------------------------------------------

static WasmtimeApi W;
static int bound;

// Python classes and constants, from `setup` (the kernel's model: built once per process).
static PyObject *ResultType, *ErrorType, *EventType, *LogType, *AddType;
static PyObject *KindRevert, *KindOutOfGas, *KindHost, *KindTrap, *KindTimeout;
static PyObject *StrGet, *StrApply, *StrReads, *StrWrites, *StrStrip, *StrSplitlines;
static PyObject *StrBlockNumber, *StrTimestamp, *StrCaller, *StrAddress, *StrGasLimit;
static PyObject *EmptyBytes, *EmptyTuple;
static PyObject *StrLayers, *StrBase, *StrDeltas, *StrAmount;

// A result class whose instances are filled slot by slot, skipping attrs' generated __init__
// (the Python side allows it only for frozen slotted classes without validators, converters or
// __attrs_post_init__, where __init__ does nothing else); otherwise the class is called.
typedef struct {
  PyTypeObject *type;
  Py_ssize_t n, offsets[8];
} Record;

static Record ResultRecord, LogRecord, EventRecord, AddRecord;

// Results are many small objects that live on (a block's worth at a time) and can never be part
// of a reference cycle: frozen records of bytes, ints, tuples and sets of bytes, built here. Left
// tracked, every collection walks them and each block's results push the collector towards a
// full collection (measured: a tenth of a block's time). The collector need not see them.
static PyObject *untracked(PyObject *obj) {
  if (obj && PyObject_IS_GC(obj) && PyObject_GC_IsTracked(obj)) PyObject_GC_UnTrack(obj);
  return obj;
}

// A record (Result, Log, Event, AddU256) of acyclic values: see untracked().
static PyObject *record_new(PyObject *cls, Record *rec, PyObject *const *values, Py_ssize_t n) {
  if (!rec->type) return PyObject_Vectorcall(cls, values, (size_t)n, NULL);
  PyObject *obj = rec->type->tp_alloc(rec->type, 0);
  if (!obj) return NULL;
  for (Py_ssize_t i = 0; i < n; i++) {
    Py_INCREF(values[i]);
    *(PyObject **)((char *)obj + rec->offsets[i]) = values[i];
  }
  return untracked(obj);
}

static int record_setup(Record *rec, PyObject *cls, PyObject *fields) {
  Py_CLEAR(rec->type);
  if (fields == Py_None) return 0;
  if (!PyType_Check(cls) || !PyTuple_Check(fields) || PyTuple_GET_SIZE(fields) > 8) {
    PyErr_SetString(PyExc_TypeError, "setup: a record needs a class and at most 8 field names");
    return -1;
  }
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
    PyObject *d = PyDict_GetItemWithError(((PyTypeObject *)cls)->tp_dict, PyTuple_GET_ITEM(fields, i));
    if (!d || Py_TYPE(d) != &PyMemberDescr_Type ||
        ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
      if (!PyErr_Occurred())
        PyErr_Format(PyExc_TypeError, "setup: %R is not a slot of %R", PyTuple_GET_ITEM(fields, i), cls);
      return -1;
    }
    rec->offsets[i] = ((PyMemberDescrObject *)d)->d_member->offset;
  }
  rec->n = PyTuple_GET_SIZE(fields);
  Py_INCREF(cls);
  rec->type = (PyTypeObject *)cls;
  return 0;
}

// ---- limits (docs/host-abi.md) ------------------------------------------------------------------

#define STORAGE_PREFIX 0x01
#define ADDRESS_SIZE 20
#define MAX_KEY_SIZE 256
#define MAX_VALUE_SIZE 65536
#define MAX_EVENT_SIZE 65536
#define FULL_KEY_MAX (1 + ADDRESS_SIZE + MAX_KEY_SIZE)
#define STORAGE_BYTE_GAS 2
#define EVENT_BYTE_GAS 8
#define LOG_TOPIC_GAS 375
#define COPY_BYTE_GAS 1
#define ERRMSG_SIZE 512

typedef unsigned __int128 u128;

// ---- growable byte buffers ---------------------------------------------------------------------

typedef struct {
  uint8_t *p;
  size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t n) {
  if (n <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < n) cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

static int buf_set(Buf *b, const uint8_t *src, size_t n) {
  if (buf_reserve(b, n)) return -1;
  if (n) memcpy(b->p, src, n);
  b->len = n;
  return 0;
}

static void buf_free(Buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

// Capacity kept between calls: a call that stored a large value does not pin it for ever.
static void buf_trim(Buf *b) {
  if (b->cap > 4096) buf_free(b);
  b->len = 0;
}

// ---- 256-bit little-endian additions (AddU256) -------------------------------------------------

// dst = (dst + src) mod 2**256; both 32 bytes, little-endian.
static void add256(uint8_t dst[32], const uint8_t src[32]) {
  unsigned carry = 0;
  for (int i = 0; i < 32; i++) {
    unsigned s = (unsigned)dst[i] + src[i] + carry;
    dst[i] = (uint8_t)s;
    carry = s >> 8;
  }
}

// A value read as a little-endian number, mod 2**256, as 32 bytes (AddU256.onto's reading: bytes
// beyond the 32nd are multiples of 2**256 and drop out).
static void low256(uint8_t out[32], const uint8_t *v, size_t n) {
  memset(out, 0, 32);
  if (n) memcpy(out, v, n < 32 ? n : 32);
}

// ---- the call's storage: one entry per key it touched ------------------------------------------

enum { TOP_NONE, TOP_SET, TOP_DEL, TOP_ADD };
enum { BASE_UNKNOWN, BASE_ABSENT, BASE_PRESENT };

typedef struct {
  uint64_t hash;
  uint32_t klen;
  uint8_t read;        // in the read set
  uint8_t written;     // in the write set
  uint8_t base_state;  // the value below the call's snapshot, once fetched
  uint8_t top;         // what the call's snapshot layer holds for the key
  uint8_t delta[32];   // TOP_ADD: the pending addition
  uint8_t fetched;     // block mode: the base came from the block's state cache...
  uint32_t slot;       // ...from this slot...
  uint32_t version;    // ...at this version (what validation compares)
  Buf base, topval;
  PyObject *pykey;     // the full key as bytes, made once per call when first needed
  uint8_t key[FULL_KEY_MAX];
} Entry;

typedef struct {
  Buf data;
} EventRec;

typedef struct {
  uint32_t ntopics;
  uint8_t topics[4 * 32];
  Buf data;
} LogRec;

enum { ERR_NONE, ERR_REVERT, ERR_OUT_OF_GAS, ERR_HOST };

struct Block;
struct Lane;

typedef struct Frame {
  // the call
  wasmtime_context_t *ctx;
  struct Block *block;  // block mode (block.c): reads come from the block's state cache
  struct Lane *lane;    // block mode: the thread's lane
  PyObject *state;
  bool fast_overlay;  // the state is a plain StateOverlay: its layers are read and written here
  PyObject *address_obj;
  uint8_t caller[ADDRESS_SIZE], address[ADDRESS_SIZE];
  uint64_t block_number, timestamp, gas_limit;
  const uint8_t *input;
  size_t input_len;
  // memory
  bool has_mem;
  wasmtime_memory_t memh;
  uint8_t *mem;
  size_t mem_size;
  // gas charged by host functions, beside wasmtime's fuel
  u128 host_gas;
  // outputs
  Buf ret;
  EventRec *events;
  size_t nevents, events_cap;
  LogRec *logs;
  size_t nlogs, logs_cap;
  bool has_pending;
  Buf pending;
  // storage
  Entry *entries;
  size_t nentries, entries_cap;
  int32_t *index;  // open addressing over entries: entry number + 1, 0 empty
  size_t index_cap;
  uint32_t *write_order;  // entries in the order of their first write (the layer's dict order)
  size_t nwrite_order, write_order_cap;
  // the error that ended the call
  int err;
  char errmsg[ERRMSG_SIZE];
  PyObject *err_pymsg;
} Frame;

static __thread Frame *cur;

// A native host function: its base gas (from the kernel's HostFunction) and qualified name.
typedef struct {
  uint64_t gas;
  char qname[64];
} FnInfo;

static uint64_t key_hash(const uint8_t *k, size_t n) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (size_t i = 0; i < n; i++) {
    h ^= k[i];
    h *= 1099511628211ULL;
  }
  return h ^ (h >> 29);
}

static int index_grow(Frame *f) {
  size_t cap = f->index_cap ? f->index_cap * 2 : 64;
  int32_t *idx = calloc(cap, sizeof *idx);
  if (!idx) return -1;
  for (size_t i = 0; i < f->nentries; i++) {
    size_t j = f->entries[i].hash & (cap - 1);
    while (idx[j]) j = (j + 1) & (cap - 1);
    idx[j] = (int32_t)(i + 1);
  }
  free(f->index);
  f->index = idx;
  f->index_cap = cap;
  return 0;
}

// The entry for `key`, made on first use; NULL when memory runs out.
static Entry *entry_for(Frame *f, const uint8_t *key, size_t klen) {
  uint64_t h = key_hash(key, klen);
  if (f->index_cap) {
    size_t j = h & (f->index_cap - 1);
    for (int32_t i; (i = f->index[j]); j = (j + 1) & (f->index_cap - 1)) {
      Entry *e = &f->entries[i - 1];
      if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) return e;
    }
  }
  if (2 * (f->nentries + 1) > f->index_cap && index_grow(f)) return NULL;
  if (f->nentries == f->entries_cap) {
    size_t cap = f->entries_cap ? f->entries_cap * 2 : 16;
    Entry *es = realloc(f->entries, cap * sizeof *es);
    if (!es) return NULL;
    memset(es + f->entries_cap, 0, (cap - f->entries_cap) * sizeof *es);
    f->entries = es;
    f->entries_cap = cap;
  }
  Entry *e = &f->entries[f->nentries];
  e->hash = h;
  e->klen = (uint32_t)klen;
  e->read = e->written = 0;
  e->base_state = BASE_UNKNOWN;
  e->top = TOP_NONE;
  e->fetched = 0;
  e->base.len = e->topval.len = 0;
  e->pykey = NULL;
  memcpy(e->key, key, klen);
  size_t j = h & (f->index_cap - 1);
  while (f->index[j]) j = (j + 1) & (f->index_cap - 1);
  f->index[j] = (int32_t)(++f->nentries);
  return e;
}

static PyObject *entry_pykey(Entry *e) {
  if (!e->pykey) e->pykey = PyBytes_FromStringAndSize((const char *)e->key, e->klen);
  return e->pykey;
}

static int note_write(Frame *f, Entry *e) {
  if (e->written) return 0;
  if (f->nwrite_order == f->write_order_cap) {
    size_t cap = f->write_order_cap ? f->write_order_cap * 2 : 16;
    uint32_t *w = realloc(f->write_order, cap * sizeof *w);
    if (!w) return -1;
    f->write_order = w;
    f->write_order_cap = cap;
  }
  f->write_order[f->nwrite_order++] = (uint32_t)(e - f->entries);
  e->written = 1;
  return 0;
}

// Forget the previous call: keep capacity, drop references.
static void frame_reset(Frame *f) {
  for (size_t i = 0; i < f->nentries; i++) {
    Entry *e = &f->entries[i];
    Py_CLEAR(e->pykey);
    buf_trim(&e->base);
    buf_trim(&e->topval);
  }
  if (f->index_cap > 4096) {
    free(f->index);
    f->index = NULL;
    f->index_cap = 0;
  } else if (f->index_cap) {
    memset(f->index, 0, f->index_cap * sizeof *f->index);
  }
  f->nentries = 0;
  f->nwrite_order = 0;
  for (size_t i = 0; i < f->nevents; i++) buf_trim(&f->events[i].data);
  for (size_t i = 0; i < f->nlogs; i++) buf_trim(&f->logs[i].data);
  f->nevents = f->nlogs = 0;
  buf_trim(&f->ret);
  buf_trim(&f->pending);
  f->has_pending = false;
  f->host_gas = 0;
  f->err = ERR_NONE;
  f->errmsg[0] = 0;
  Py_CLEAR(f->err_pymsg);
  f->has_mem = false;
  f->mem = NULL;
  f->mem_size = 0;
  f->state = NULL;
  f->address_obj = NULL;
}

static void frame_free(Frame *f) {
  frame_reset(f);
  for (size_t i = 0; i < f->entries_cap; i++) {
    buf_free(&f->entries[i].base);
    buf_free(&f->entries[i].topval);
  }
  free(f->entries);
  free(f->index);
  free(f->write_order);
  for (size_t i = 0; i < f->events_cap; i++) buf_free(&f->events[i].data);
  free(f->events);
  for (size_t i = 0; i < f->logs_cap; i++) buf_free(&f->logs[i].data);
  free(f->logs);
  buf_free(&f->ret);
  buf_free(&f->pending);
  memset(f, 0, sizeof *f);
}

// ---- failures ---------------------------------------------------------------------------------

static wasm_trap_t *new_trap(const FnInfo *fn) { return W.wasmtime_trap_new(fn->qname, strlen(fn->qname)); }

// A HostTrap: "supervm.name: message", kind host_error.
static wasm_trap_t *fail_host(Frame *f, const FnInfo *fn, const char *fmt, ...) {
  int n = snprintf(f->errmsg, ERRMSG_SIZE, "%s: ", fn->qname);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && n < ERRMSG_SIZE) vsnprintf(f->errmsg + n, ERRMSG_SIZE - (size_t)n, fmt, ap);
  va_end(ap);
  f->err = ERR_HOST;
  return new_trap(fn);
}

static wasm_trap_t *fail_oom(Frame *f, const FnInfo *fn) {
  return fail_host(f, fn, "the host ran out of memory");
}

static wasm_trap_t *fail_out_of_gas(Frame *f, const FnInfo *fn) {
  f->err = ERR_OUT_OF_GAS;
  return new_trap(fn);
}

// A Python exception raised under a host function (a storage backend failing): like the Python
// path, "supervm.name failed: Type: message", kind host_error.
static wasm_trap_t *fail_python(Frame *f, const FnInfo *fn) {
  PyObject *type, *exc, *tb;
  PyErr_Fetch(&type, &exc, &tb);
  PyErr_NormalizeException(&type, &exc, &tb);
  Py_XDECREF(tb);
  PyObject *name = type ? PyObject_GetAttrString(type, "__name__") : NULL;
  Py_XDECREF(type);
  Py_CLEAR(f->err_pymsg);
  if (name) f->err_pymsg = PyUnicode_FromFormat("%s failed: %U: %S", fn->qname, name, exc);
  if (!f->err_pymsg) {
    PyErr_Clear();
    snprintf(f->errmsg, ERRMSG_SIZE, "%s failed: an exception that could not be described",
             fn->qname);
  }
  Py_XDECREF(name);
  Py_XDECREF(exc);
  f->err = ERR_HOST;
  return new_trap(fn);
}

// ---- gas and memory ---------------------------------------------------------------------------

// The base price, charged before the function runs; past the limit the call traps at once.
#define PROLOGUE()                                                     \
  Frame *f = cur;                                                      \
  const FnInfo *fn = (const FnInfo *)env;                              \
  (void)caller;                                                        \
  (void)nargs;                                                         \
  f->host_gas += fn->gas;                                              \
  if (f->host_gas > f->gas_limit) return fail_out_of_gas(f, fn)

#define ARG_U32(i) ((uint32_t)args[i].i32)

// frame.charge: a per-byte charge checked at once (events, logs, copies).
static inline bool charge(Frame *f, u128 gas) {
  f->host_gas += gas;
  return f->host_gas > f->gas_limit;
}

// frame.read/frame.write's bounds check: [ptr, ptr + len) inside memory, which may have grown.
static wasm_trap_t *check_mem(Frame *f, const FnInfo *fn, uint32_t ptr, uint64_t len) {
  uint64_t end = (uint64_t)ptr + len;
  if (!f->has_mem) return fail_host(f, fn, "the module exports no memory named 'memory'");
  if (end > f->mem_size) {
    f->mem_size = W.wasmtime_memory_data_size(f->ctx, &f->memh);
    if (end > f->mem_size)
      return fail_host(f, fn,
                       "host call accessed memory [%" PRIu32 ", %" PRIu64
                       ") outside the module's %zu bytes",
                       ptr, end, f->mem_size);
  }
  return NULL;
}

#define CHECK_MEM(ptr, len)                                           \
  do {                                                                \
    wasm_trap_t *t_ = check_mem(f, fn, (ptr), (uint64_t)(len));       \
    if (t_) return t_;                                                \
  } while (0)

// ---- storage ----------------------------------------------------------------------------------

// _key: the world-state key 0x01 ‖ address ‖ key, from memory.
static wasm_trap_t *read_key(Frame *f, const FnInfo *fn, uint32_t ptr, uint32_t len, Entry **out) {
  if (len > MAX_KEY_SIZE)
    return fail_host(f, fn, "storage key of %" PRIu32 " bytes exceeds the limit of %d", len,
                     MAX_KEY_SIZE);
  CHECK_MEM(ptr, len);
  uint8_t key[FULL_KEY_MAX];
  key[0] = STORAGE_PREFIX;
  memcpy(key + 1, f->address, ADDRESS_SIZE);
  memcpy(key + 1 + ADDRESS_SIZE, f->mem + ptr, len);
  Entry *e = entry_for(f, key, 1 + ADDRESS_SIZE + len);
  if (!e) return fail_oom(f, fn);
  *out = e;
  return NULL;
}

// A miss: the value below the call, from the state overlay (which records the read). The call
// runs without the GIL; this takes it for the one Python call.
// StateOverlay.get, for a state whose class does not override it: the layers newest first, then
// the backend. A pending addition is worked out by the overlay itself (peek).
static PyObject *overlay_get(Frame *f, PyObject *key) {
  PyObject *layers = PyObject_GetAttr(f->state, StrLayers);
  if (!layers) return NULL;
  if (!PyList_Check(layers)) {
    Py_DECREF(layers);
    return PyObject_CallMethodOneArg(f->state, StrGet, key);
  }
  for (Py_ssize_t i = PyList_GET_SIZE(layers) - 1; i >= 0; i--) {
    PyObject *value = PyDict_GetItemWithError(PyList_GET_ITEM(layers, i), key);
    if (value) {
      Py_DECREF(layers);
      if ((PyObject *)Py_TYPE(value) == AddType) return PyObject_CallMethodOneArg(f->state, StrGet, key);
      Py_INCREF(value);
      return value;
    }
    if (PyErr_Occurred()) {
      Py_DECREF(layers);
      return NULL;
    }
  }
  Py_DECREF(layers);
  PyObject *base = PyObject_GetAttr(f->state, StrBase);
  if (!base) return NULL;
  PyObject *value = PyObject_CallMethodOneArg(base, StrGet, key);
  Py_DECREF(base);
  return value;
}

static wasm_trap_t *fetch_base_locked(Frame *f, const FnInfo *fn, Entry *e) {
  PyObject *key = entry_pykey(e);
  if (!key) return fail_python(f, fn);
  PyObject *value = f->fast_overlay ? overlay_get(f, key)
                                    : PyObject_CallMethodOneArg(f->state, StrGet, key);
  if (!value) return fail_python(f, fn);
  wasm_trap_t *t = NULL;
  if (value == Py_None) {
    e->base_state = BASE_ABSENT;
  } else {
    Py_buffer view;
    if (PyObject_GetBuffer(value, &view, PyBUF_SIMPLE)) {
      t = fail_python(f, fn);
    } else {
      int bad = buf_set(&e->base, view.buf, (size_t)view.len);
      PyBuffer_Release(&view);
      if (bad) t = fail_oom(f, fn);
      else e->base_state = BASE_PRESENT;
    }
  }
  Py_DECREF(value);
  return t;
}

static wasm_trap_t *block_fetch(Frame *f, const FnInfo *fn, Entry *e);

static wasm_trap_t *fetch_base(Frame *f, const FnInfo *fn, Entry *e) {
  if (f->block) return block_fetch(f, fn, e);
  PyGILState_STATE gil = PyGILState_Ensure();
  wasm_trap_t *t = fetch_base_locked(f, fn, e);
  PyGILState_Release(gil);
  return t;
}

// state.get within the call: its own writes first, then the state below. `tmp` holds a worked
// out addition. *present is false for an absent key.
static wasm_trap_t *entry_value(Frame *f, const FnInfo *fn, Entry *e, const uint8_t **val,
                                size_t *len, bool *present, uint8_t tmp[32]) {
  e->read = 1;
  if (e->top == TOP_SET) {
    *val = e->topval.p;
    *len = e->topval.len;
    *present = true;
    return NULL;
  }
  if (e->top == TOP_DEL) {
    *present = false;
    return NULL;
  }
  if (e->base_state == BASE_UNKNOWN) {
    wasm_trap_t *t = fetch_base(f, fn, e);
    if (t) return t;
  }
  if (e->top == TOP_ADD) {
    if (e->base_state == BASE_PRESENT)
      low256(tmp, e->base.p, e->base.len);
    else
      memset(tmp, 0, 32);
    add256(tmp, e->delta);
    *val = tmp;
    *len = 32;
    *present = true;
    return NULL;
  }
  *present = e->base_state == BASE_PRESENT;
  *val = e->base.p;
  *len = e->base.len;
  return NULL;
}

static wasm_trap_t *h_storage_get(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                  size_t nargs) {
  PROLOGUE();
  uint32_t kp = ARG_U32(0), kl = ARG_U32(1);
  Entry *e;
  wasm_trap_t *t = read_key(f, fn, kp, kl, &e);
  if (t) return t;
  const uint8_t *val = NULL;
  size_t len = 0;
  bool present;
  uint8_t tmp[32];
  if ((t = entry_value(f, fn, e, &val, &len, &present, tmp))) return t;
  f->has_pending = present;
  if (!present) {
    args[0].i64 = -1;
    return NULL;
  }
  if (buf_set(&f->pending, val, len)) return fail_oom(f, fn);
  f->host_gas += (u128)STORAGE_BYTE_GAS * ((uint64_t)kl + len);  // checked at the call's end
  args[0].i64 = (int64_t)len;
  return NULL;
}

static wasm_trap_t *h_storage_read_value(void *env, wasmtime_caller_t *caller,
                                         wasmtime_val_raw_t *args, size_t nargs) {
  PROLOGUE();
  uint32_t p = ARG_U32(0), l = ARG_U32(1);
  if (!f->has_pending) return fail_host(f, fn, "storage_read_value without a value from storage_get");
  size_t n = l < f->pending.len ? l : f->pending.len;
  CHECK_MEM(p, n);
  if (n) memcpy(f->mem + p, f->pending.p, n);
  args[0].i32 = (int32_t)n;
  return NULL;
}

static wasm_trap_t *h_storage_read(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                   size_t nargs) {
  PROLOGUE();
  uint32_t kp = ARG_U32(0), kl = ARG_U32(1), op = ARG_U32(2), ol = ARG_U32(3);
  Entry *e;
  wasm_trap_t *t = read_key(f, fn, kp, kl, &e);
  if (t) return t;
  const uint8_t *val = NULL;
  size_t len = 0;
  bool present;
  uint8_t tmp[32];
  if ((t = entry_value(f, fn, e, &val, &len, &present, tmp))) return t;
  if (!present) {
    args[0].i64 = -1;
    return NULL;
  }
  f->host_gas += (u128)STORAGE_BYTE_GAS * ((uint64_t)kl + len);  // checked at the call's end
  size_t n = ol < len ? ol : len;
  CHECK_MEM(op, n);
  if (n) memcpy(f->mem + op, val, n);
  args[0].i64 = (int64_t)len;
  return NULL;
}

static wasm_trap_t *h_storage_set(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                  size_t nargs) {
  PROLOGUE();
  uint32_t kp = ARG_U32(0), kl = ARG_U32(1), vp = ARG_U32(2), vl = ARG_U32(3);
  if (vl > MAX_VALUE_SIZE)
    return fail_host(f, fn, "storage value of %" PRIu32 " bytes exceeds the limit of %d", vl,
                     MAX_VALUE_SIZE);
  f->host_gas += (u128)STORAGE_BYTE_GAS * ((uint64_t)kl + vl);  // checked at the call's end
  Entry *e;
  wasm_trap_t *t = read_key(f, fn, kp, kl, &e);
  if (t) return t;
  CHECK_MEM(vp, vl);
  if (buf_set(&e->topval, f->mem + vp, vl) || note_write(f, e)) return fail_oom(f, fn);
  e->top = TOP_SET;
  args[0].i32 = 0;
  return NULL;
}

static wasm_trap_t *h_storage_add(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                  size_t nargs) {
  PROLOGUE();
  uint32_t kp = ARG_U32(0), kl = ARG_U32(1), ap = ARG_U32(2);
  f->host_gas += (u128)STORAGE_BYTE_GAS * ((uint64_t)kl + 32);  // checked at the call's end
  CHECK_MEM(ap, 32);
  uint8_t amount[32];
  memcpy(amount, f->mem + ap, 32);
  Entry *e;
  wasm_trap_t *t = read_key(f, fn, kp, kl, &e);
  if (t) return t;
  if (note_write(f, e)) return fail_oom(f, fn);
  // StateOverlay._merge of an AddU256 into the call's layer.
  uint8_t v[32];
  switch (e->top) {
    case TOP_NONE:
      e->top = TOP_ADD;
      memcpy(e->delta, amount, 32);
      break;
    case TOP_ADD:
      add256(e->delta, amount);
      break;
    case TOP_SET:
      low256(v, e->topval.p, e->topval.len);
      add256(v, amount);
      if (buf_set(&e->topval, v, 32)) return fail_oom(f, fn);
      break;
    default:  // TOP_DEL: onto(None) counts the value as 0
      if (buf_set(&e->topval, amount, 32)) return fail_oom(f, fn);
      e->top = TOP_SET;
  }
  args[0].i32 = 0;
  return NULL;
}

static wasm_trap_t *h_storage_delete(void *env, wasmtime_caller_t *caller,
                                     wasmtime_val_raw_t *args, size_t nargs) {
  PROLOGUE();
  Entry *e;
  wasm_trap_t *t = read_key(f, fn, ARG_U32(0), ARG_U32(1), &e);
  if (t) return t;
  if (note_write(f, e)) return fail_oom(f, fn);
  e->top = TOP_DEL;
  e->topval.len = 0;
  args[0].i32 = 0;
  return NULL;
}

// ---- chain and call context ---------------------------------------------------------------------

static wasm_trap_t *h_block_number(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                   size_t nargs) {
  PROLOGUE();
  args[0].i64 = (int64_t)f->block_number;
  return NULL;
}

static wasm_trap_t *h_timestamp(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                size_t nargs) {
  PROLOGUE();
  args[0].i64 = (int64_t)f->timestamp;
  return NULL;
}

static wasm_trap_t *h_caller(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                             size_t nargs) {
  PROLOGUE();
  uint32_t p = ARG_U32(0);
  CHECK_MEM(p, ADDRESS_SIZE);
  memcpy(f->mem + p, f->caller, ADDRESS_SIZE);
  return NULL;
}

static wasm_trap_t *h_self_address(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                   size_t nargs) {
  PROLOGUE();
  uint32_t p = ARG_U32(0);
  CHECK_MEM(p, ADDRESS_SIZE);
  memcpy(f->mem + p, f->address, ADDRESS_SIZE);
  return NULL;
}

static wasm_trap_t *h_input_len(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                size_t nargs) {
  PROLOGUE();
  args[0].i32 = (int32_t)f->input_len;
  return NULL;
}

static wasm_trap_t *h_read_input(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                 size_t nargs) {
  PROLOGUE();
  uint32_t p = ARG_U32(0);
  if (charge(f, (u128)COPY_BYTE_GAS * f->input_len)) return fail_out_of_gas(f, fn);
  CHECK_MEM(p, f->input_len);
  if (f->input_len) memcpy(f->mem + p, f->input, f->input_len);
  return NULL;
}

static wasm_trap_t *h_set_return(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                 size_t nargs) {
  PROLOGUE();
  uint32_t p = ARG_U32(0), l = ARG_U32(1);
  if (charge(f, (u128)COPY_BYTE_GAS * l)) return fail_out_of_gas(f, fn);
  CHECK_MEM(p, l);
  if (buf_set(&f->ret, f->mem + p, l)) return fail_oom(f, fn);
  return NULL;
}

static wasm_trap_t *h_revert(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                             size_t nargs) {
  PROLOGUE();
  uint32_t p = ARG_U32(0), l = ARG_U32(1);
  if (charge(f, (u128)COPY_BYTE_GAS * l)) return fail_out_of_gas(f, fn);
  CHECK_MEM(p, l);
  if (buf_set(&f->ret, f->mem + p, l)) return fail_oom(f, fn);
  f->err = ERR_REVERT;
  return new_trap(fn);
}

static wasm_trap_t *h_gas_left(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                               size_t nargs) {
  PROLOGUE();
  uint64_t fuel = 0;
  wasmtime_error_t *err = W.wasmtime_context_get_fuel(f->ctx, &fuel);
  if (err) {
    W.wasmtime_error_delete(err);
    return fail_host(f, fn, "fuel is not enabled");
  }
  if (f->host_gas > fuel) return fail_out_of_gas(f, fn);
  args[0].i64 = (int64_t)(uint64_t)(fuel - f->host_gas);
  return NULL;
}

// ---- events and logs --------------------------------------------------------------------------

static wasm_trap_t *h_emit_event(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                 size_t nargs) {
  PROLOGUE();
  uint32_t p = ARG_U32(0), l = ARG_U32(1);
  if (l > MAX_EVENT_SIZE)
    return fail_host(f, fn, "event of %" PRIu32 " bytes exceeds the limit of %d", l, MAX_EVENT_SIZE);
  if (charge(f, (u128)EVENT_BYTE_GAS * l)) return fail_out_of_gas(f, fn);
  CHECK_MEM(p, l);
  if (f->nevents == f->events_cap) {
    size_t cap = f->events_cap ? 2 * f->events_cap : 4;
    EventRec *ev = realloc(f->events, cap * sizeof *ev);
    if (!ev) return fail_oom(f, fn);
    memset(ev + f->events_cap, 0, (cap - f->events_cap) * sizeof *ev);
    f->events = ev;
    f->events_cap = cap;
  }
  if (buf_set(&f->events[f->nevents].data, f->mem + p, l)) return fail_oom(f, fn);
  f->nevents++;
  args[0].i32 = 0;
  return NULL;
}

static wasm_trap_t *h_events_len(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                 size_t nargs) {
  PROLOGUE();
  args[0].i32 = (int32_t)f->nevents;
  return NULL;
}

static wasm_trap_t *h_read_event(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                 size_t nargs) {
  PROLOGUE();
  uint32_t index = ARG_U32(0), p = ARG_U32(1), l = ARG_U32(2);
  if (index >= f->nevents) {
    args[0].i32 = -1;
    return NULL;
  }
  Buf *data = &f->events[index].data;
  size_t n = l < data->len ? l : data->len;
  CHECK_MEM(p, n);
  if (n) memcpy(f->mem + p, data->p, n);
  args[0].i32 = (int32_t)n;
  return NULL;
}

static wasm_trap_t *h_emit_log(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                               size_t nargs) {
  PROLOGUE();
  uint32_t tp = ARG_U32(0), nt = ARG_U32(1), dp = ARG_U32(2), dl = ARG_U32(3);
  if (nt > 4) return fail_host(f, fn, "emit_log with %" PRIu32 " topics; at most 4 are allowed", nt);
  if (dl > MAX_EVENT_SIZE)
    return fail_host(f, fn, "log data of %" PRIu32 " bytes exceeds the limit of %d", dl,
                     MAX_EVENT_SIZE);
  if (charge(f, (u128)LOG_TOPIC_GAS * nt + (u128)EVENT_BYTE_GAS * dl)) return fail_out_of_gas(f, fn);
  CHECK_MEM(tp, 32 * nt);
  if (f->nlogs == f->logs_cap) {
    size_t cap = f->logs_cap ? 2 * f->logs_cap : 4;
    LogRec *lg = realloc(f->logs, cap * sizeof *lg);
    if (!lg) return fail_oom(f, fn);
    memset(lg + f->logs_cap, 0, (cap - f->logs_cap) * sizeof *lg);
    f->logs = lg;
    f->logs_cap = cap;
  }
  LogRec *log = &f->logs[f->nlogs];
  log->ntopics = nt;
  if (nt) memcpy(log->topics, f->mem + tp, 32 * nt);
  CHECK_MEM(dp, dl);
  if (buf_set(&log->data, f->mem + dp, dl)) return fail_oom(f, fn);
  f->nlogs++;
  args[0].i32 = 0;
  return NULL;
}

// ---- crypto -----------------------------------------------------------------------------------

static wasm_trap_t *hash_into(Frame *f, const FnInfo *fn, wasmtime_val_raw_t *args, uint64_t word_gas,
                              void (*hash)(const uint8_t *, size_t, uint8_t *)) {
  uint32_t p = ARG_U32(0), l = ARG_U32(1), op = ARG_U32(2);
  if (charge(f, (u128)word_gas * (((uint64_t)l + 31) / 32))) return fail_out_of_gas(f, fn);
  CHECK_MEM(p, l);
  uint8_t digest[32];
  hash(f->mem + p, l, digest);
  CHECK_MEM(op, 32);
  memcpy(f->mem + op, digest, 32);
  args[0].i32 = 0;
  return NULL;
}

static wasm_trap_t *h_sha256(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                             size_t nargs) {
  PROLOGUE();
  return hash_into(f, fn, args, 12, svm_sha256);
}

static wasm_trap_t *h_keccak256(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args,
                                size_t nargs) {
  PROLOGUE();
  return hash_into(f, fn, args, 6, svm_keccak256);
}

// ---- the native host functions ------------------------------------------------------------------

typedef struct {
  const char *name;
  const char *params;  // one letter per parameter: i = i32, I = i64
  const char *results;
  wasmtime_func_unchecked_callback_t callback;
} NativeDef;

static const NativeDef NATIVE[] = {
    {"storage_get", "ii", "I", h_storage_get},
    {"storage_read_value", "ii", "i", h_storage_read_value},
    {"storage_read", "iiii", "I", h_storage_read},
    {"storage_set", "iiii", "i", h_storage_set},
    {"storage_delete", "ii", "i", h_storage_delete},
    {"storage_add", "iii", "i", h_storage_add},
    {"block_number", "", "I", h_block_number},
    {"timestamp", "", "I", h_timestamp},
    {"emit_event", "ii", "i", h_emit_event},
    {"events_len", "", "i", h_events_len},
    {"read_event", "iii", "i", h_read_event},
    {"emit_log", "iiii", "i", h_emit_log},
    {"caller", "i", "", h_caller},
    {"self_address", "i", "", h_self_address},
    {"input_len", "", "i", h_input_len},
    {"read_input", "i", "", h_read_input},
    {"set_return", "ii", "", h_set_return},
    {"revert", "ii", "", h_revert},
    {"gas_left", "", "I", h_gas_left},
    {"sha256", "iii", "i", h_sha256},
    {"keccak256", "iii", "i", h_keccak256},
};
#define NNATIVE (sizeof NATIVE / sizeof NATIVE[0])

// ---- Runtime and Module objects -----------------------------------------------------------------

typedef struct {
  PyObject_HEAD
  wasm_engine_t *engine;
  PyObject *engine_owner;  // the wasmtime.Engine the pointer belongs to
  wasmtime_linker_t *linker;
  wasmtime_store_t *store;
  wasmtime_context_t *ctx;
  uint32_t instances, instances_per_store;
  uint64_t max_memory, deadline_ticks;
  PyObject *timeout_message;
  int busy;
  FnInfo fns[NNATIVE];
  Frame frame;
  struct Lane *lanes;  // the block executor's threads (block.c), kept across blocks
  int nlanes;
} Runtime;

typedef struct {
  PyObject_HEAD
  wasmtime_instance_pre_t *pre;
  PyObject *runtime;
  PyObject *owner;  // the wasmtime.Module the pre-linked instance was made from
} NativeModule;

static PyTypeObject RuntimeType, NativeModuleType;

static PyObject *wasmtime_error_to_py(wasmtime_error_t *err, const char *what) {
  wasm_byte_vec_t m = {0, NULL};
  W.wasmtime_error_message(err, &m);
  PyErr_Format(PyExc_RuntimeError, "%s: %.*s", what, (int)m.size, (const char *)m.data);
  W.wasm_byte_vec_delete(&m);
  W.wasmtime_error_delete(err);
  return NULL;
}

static wasm_valtype_vec_t valtypes(const char *spec) {
  wasm_valtype_vec_t vec;
  size_t n = strlen(spec);
  if (!n) {
    W.wasm_valtype_vec_new_empty(&vec);
    return vec;
  }
  wasm_valtype_t *types[8];
  for (size_t i = 0; i < n; i++) types[i] = W.wasm_valtype_new(spec[i] == 'I' ? WASM_I64 : WASM_I32);
  W.wasm_valtype_vec_new(&vec, n, types);
  return vec;
}

static int runtime_new_store(Runtime *rt) {
  if (rt->store) W.wasmtime_store_delete(rt->store);
  rt->store = W.wasmtime_store_new(rt->engine, NULL, NULL);
  if (!rt->store) {
    PyErr_SetString(PyExc_MemoryError, "wasmtime could not create a store");
    return -1;
  }
  rt->ctx = W.wasmtime_store_context(rt->store);
  rt->instances = 0;
  return 0;
}

// Runtime(engine_address, engine_owner, functions: dict name -> base gas, max_memory,
//         deadline_ticks, timeout_message, instances_per_store)
static int runtime_init(Runtime *rt, PyObject *args, PyObject *kwds) {
  unsigned long long engine_addr, max_memory, deadline_ticks;
  unsigned int per_store;
  PyObject *owner, *functions, *timeout_message;
  if (!PyArg_ParseTuple(args, "KOO!KKUI", &engine_addr, &owner, &PyDict_Type, &functions,
                        &max_memory, &deadline_ticks, &timeout_message, &per_store))
    return -1;
  if (!bound) {
    PyErr_SetString(PyExc_RuntimeError, "the wasmtime library is not bound: call bind() first");
    return -1;
  }
  if (rt->linker) {
    PyErr_SetString(PyExc_RuntimeError, "Runtime already initialised");
    return -1;
  }
  rt->engine = (wasm_engine_t *)(uintptr_t)engine_addr;
  Py_INCREF(owner);
  rt->engine_owner = owner;
  Py_INCREF(timeout_message);
  rt->timeout_message = timeout_message;
  rt->max_memory = max_memory;
  rt->deadline_ticks = deadline_ticks;
  rt->instances_per_store = per_store ? per_store : 1;
  rt->linker = W.wasmtime_linker_new(rt->engine);
  for (size_t i = 0; i < NNATIVE; i++) {
    PyObject *gas = PyDict_GetItemString(functions, NATIVE[i].name);
    if (!gas) continue;  // not native here: the module imports the Python one, so runs in Python
    rt->fns[i].gas = PyLong_AsUnsignedLongLong(gas);
    if (PyErr_Occurred()) return -1;
    snprintf(rt->fns[i].qname, sizeof rt->fns[i].qname, "supervm.%s", NATIVE[i].name);
    wasm_valtype_vec_t params = valtypes(NATIVE[i].params), results = valtypes(NATIVE[i].results);
    wasm_functype_t *ty = W.wasm_functype_new(&params, &results);
    wasmtime_error_t *err = W.wasmtime_linker_define_func_unchecked(
        rt->linker, "supervm", 7, NATIVE[i].name, strlen(NATIVE[i].name), ty, NATIVE[i].callback,
        &rt->fns[i], NULL);
    W.wasm_functype_delete(ty);
    if (err) {
      wasmtime_error_to_py(err, "defining a native host function");
      return -1;
    }
  }
  return runtime_new_store(rt);
}

static void lanes_free(Runtime *rt);

static void runtime_release(Runtime *rt) {
  frame_free(&rt->frame);
  lanes_free(rt);
  if (rt->store) W.wasmtime_store_delete(rt->store);
  rt->store = NULL;
  rt->ctx = NULL;
  if (rt->linker) W.wasmtime_linker_delete(rt->linker);
  rt->linker = NULL;
}

static void runtime_dealloc(Runtime *rt) {
  runtime_release(rt);
  Py_CLEAR(rt->engine_owner);
  Py_CLEAR(rt->timeout_message);
  Py_TYPE(rt)->tp_free((PyObject *)rt);
}

static PyObject *runtime_close(Runtime *rt, PyObject *unused) {
  if (rt->busy) {
    PyErr_SetString(PyExc_RuntimeError, "cannot close the runtime while a call runs");
    return NULL;
  }
  runtime_release(rt);
  Py_RETURN_NONE;
}

// prepare(module_address, owner) -> NativeModule: pre-link a compiled module with the native
// host functions. Raises if it imports anything they do not define.
static PyObject *runtime_prepare(Runtime *rt, PyObject *args) {
  unsigned long long module_addr;
  PyObject *owner;
  if (!PyArg_ParseTuple(args, "KO", &module_addr, &owner)) return NULL;
  if (!rt->linker) {
    PyErr_SetString(PyExc_RuntimeError, "runtime is closed");
    return NULL;
  }
  wasmtime_instance_pre_t *pre = NULL;
  wasmtime_error_t *err = W.wasmtime_linker_instantiate_pre(
      rt->linker, (const wasmtime_module_t *)(uintptr_t)module_addr, &pre);
  if (err) return wasmtime_error_to_py(err, "module cannot be linked with the native host functions");
  NativeModule *m = PyObject_New(NativeModule, &NativeModuleType);
  if (!m) {
    W.wasmtime_instance_pre_delete(pre);
    return NULL;
  }
  m->pre = pre;
  Py_INCREF(rt);
  m->runtime = (PyObject *)rt;
  Py_INCREF(owner);
  m->owner = owner;
  return (PyObject *)m;
}

static void native_module_dealloc(NativeModule *m) {
  if (m->pre) W.wasmtime_instance_pre_delete(m->pre);
  Py_CLEAR(m->runtime);
  Py_CLEAR(m->owner);
  PyObject_Free(m);
}

// ---- building the result ------------------------------------------------------------------------

static PyObject *u64_or_more(u128 v) {
  if (v <= UINT64_MAX) return PyLong_FromUnsignedLongLong((uint64_t)v);
  PyObject *hi = PyLong_FromUnsignedLongLong((uint64_t)(v >> 64));
  PyObject *lo = PyLong_FromUnsignedLongLong((uint64_t)v);
  PyObject *sixty_four = PyLong_FromLong(64);
  PyObject *shifted = hi && sixty_four ? PyNumber_Lshift(hi, sixty_four) : NULL;
  PyObject *sum = shifted && lo ? PyNumber_Or(shifted, lo) : NULL;
  Py_XDECREF(hi);
  Py_XDECREF(lo);
  Py_XDECREF(sixty_four);
  Py_XDECREF(shifted);
  return sum;
}

static PyObject *key_set(Frame *f, int writes) {
  PyObject *keys = PyTuple_New(0);
  size_t n = 0;
  for (size_t i = 0; i < f->nentries; i++)
    if (writes ? f->entries[i].written : f->entries[i].read) n++;
  if (n) {
    Py_DECREF(keys);
    keys = PyTuple_New((Py_ssize_t)n);
    if (!keys) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < f->nentries; i++) {
      Entry *e = &f->entries[i];
      if (!(writes ? e->written : e->read)) continue;
      PyObject *k = entry_pykey(e);
      if (!k) {
        Py_DECREF(keys);
        return NULL;
      }
      Py_INCREF(k);
      PyTuple_SET_ITEM(keys, (Py_ssize_t)j++, k);
    }
  }
  if (!keys) return NULL;
  PyObject *set = untracked(PyFrozenSet_New(keys));
  Py_DECREF(keys);
  return set;
}

// The call's keys join the state's own read and write sets (StateOverlay.reads/writes), as the
// Python backend's union does, whether the call succeeded or not.
static int record_access(Frame *f, PyObject *read_set, PyObject *write_set) {
  PyObject *pairs[2][2] = {{StrReads, read_set}, {StrWrites, write_set}};
  for (int i = 0; i < 2; i++) {
    if (PySet_GET_SIZE(pairs[i][1]) == 0) continue;
    PyObject *target = PyObject_GetAttr(f->state, pairs[i][0]);
    if (!target) return -1;
    if (PySet_CheckExact(target)) {
      int bad = _PySet_Update(target, pairs[i][1]);
      Py_DECREF(target);
      if (bad) return -1;
      continue;
    }
    PyObject *r = PyObject_CallMethod(target, "update", "O", pairs[i][1]);
    Py_DECREF(target);
    if (!r) return -1;
    Py_DECREF(r);
  }
  return 0;
}

// AddU256(amount) for an amount already below 2**256 (its __init__ only reduces it mod 2**256).
static PyObject *new_addition(const uint8_t amount[32]) {
  PyObject *n = _PyLong_FromByteArray(amount, 32, 1, 0);
  PyObject *add = n ? record_new(AddType, &AddRecord, &n, 1) : NULL;
  Py_XDECREF(n);
  return add;
}

// StateOverlay.apply of the call's changes, for a state whose class does not override it: into
// the innermost layer, merging additions as StateOverlay._merge does, keys into the write set.
static int overlay_apply(Frame *f) {
  PyObject *layers = PyObject_GetAttr(f->state, StrLayers);
  PyObject *writes = layers ? PyObject_GetAttr(f->state, StrWrites) : NULL;
  int rc = -1, deltas = 0;
  if (!writes) goto out;
  if (!PyList_Check(layers) || !PyList_GET_SIZE(layers) || !PySet_Check(writes)) {
    PyErr_SetString(PyExc_TypeError, "state overlay layout changed: cannot apply natively");
    goto out;
  }
  PyObject *layer = PyList_GET_ITEM(layers, PyList_GET_SIZE(layers) - 1);
  for (size_t i = 0; i < f->nwrite_order; i++) {
    Entry *e = &f->entries[f->write_order[i]];
    PyObject *key = entry_pykey(e), *value = NULL;
    if (!key || PySet_Add(writes, key)) goto out;
    if (e->top == TOP_SET) {
      value = PyBytes_FromStringAndSize((const char *)e->topval.p, (Py_ssize_t)e->topval.len);
    } else if (e->top == TOP_DEL) {
      Py_INCREF(Py_None);
      value = Py_None;
    } else {
      PyObject *current = PyDict_GetItemWithError(layer, key);
      if (!current && PyErr_Occurred()) goto out;
      uint8_t v[32];
      if (!current) {
        value = new_addition(e->delta);
        deltas = 1;
      } else if ((PyObject *)Py_TYPE(current) == AddType) {
        PyObject *amount = PyObject_GetAttr(current, StrAmount);
        if (!amount) goto out;
        int bad = _PyLong_AsByteArray((PyLongObject *)amount, v, 32, 1, 0);
        Py_DECREF(amount);
        if (bad) goto out;
        add256(v, e->delta);
        value = new_addition(v);
        deltas = 1;
      } else if (current == Py_None || PyBytes_Check(current)) {
        if (current == Py_None) low256(v, NULL, 0);
        else low256(v, (const uint8_t *)PyBytes_AS_STRING(current), (size_t)PyBytes_GET_SIZE(current));
        add256(v, e->delta);
        value = PyBytes_FromStringAndSize((const char *)v, 32);
      } else {
        PyErr_SetString(PyExc_TypeError, "state overlay holds a value that is not bytes");
        goto out;
      }
    }
    if (!value) goto out;
    int bad = PyDict_SetItem(layer, key, value);
    Py_DECREF(value);
    if (bad) goto out;
  }
  if (deltas && PyObject_SetAttr(f->state, StrDeltas, Py_True)) goto out;
  rc = 0;
out:
  Py_XDECREF(layers);
  Py_XDECREF(writes);
  return rc;
}

// state.apply([(key, value | None | AddU256)]) in the order of the call's first writes.
static int apply_writes(Frame *f) {
  if (f->fast_overlay && f->nwrite_order) return overlay_apply(f);
  if (!f->nwrite_order) return 0;
  PyObject *changes = PyList_New((Py_ssize_t)f->nwrite_order);
  if (!changes) return -1;
  for (size_t i = 0; i < f->nwrite_order; i++) {
    Entry *e = &f->entries[f->write_order[i]];
    PyObject *value;
    if (e->top == TOP_SET) {
      value = PyBytes_FromStringAndSize((const char *)e->topval.p, (Py_ssize_t)e->topval.len);
    } else if (e->top == TOP_DEL) {
      Py_INCREF(Py_None);
      value = Py_None;
    } else {
      value = new_addition(e->delta);
    }
    PyObject *key = entry_pykey(e);
    PyObject *pair = value && key ? PyTuple_Pack(2, key, value) : NULL;
    Py_XDECREF(value);
    if (!pair) {
      Py_DECREF(changes);
      return -1;
    }
    PyList_SET_ITEM(changes, (Py_ssize_t)i, pair);
  }
  PyObject *r = PyObject_CallMethodOneArg(f->state, StrApply, changes);
  Py_DECREF(changes);
  if (!r) return -1;
  Py_DECREF(r);
  return 0;
}

static PyObject *bytes_of(const Buf *b) {
  if (!b->len) {
    Py_INCREF(EmptyBytes);
    return EmptyBytes;
  }
  return PyBytes_FromStringAndSize((const char *)b->p, (Py_ssize_t)b->len);
}

static PyObject *events_tuple(const EventRec *events, size_t n, PyObject *address_obj) {
  PyObject *t = PyTuple_New((Py_ssize_t)n);
  if (!t) return NULL;
  for (size_t i = 0; i < n; i++) {
    PyObject *data = bytes_of(&events[i].data);
    PyObject *fields[2] = {address_obj, data};
    PyObject *ev = data ? record_new(EventType, &EventRecord, fields, 2) : NULL;
    Py_XDECREF(data);
    if (!ev) {
      Py_DECREF(t);
      return NULL;
    }
    PyTuple_SET_ITEM(t, (Py_ssize_t)i, ev);
  }
  return untracked(t);
}

static PyObject *logs_tuple(const LogRec *logs, size_t n, PyObject *address_obj) {
  PyObject *t = PyTuple_New((Py_ssize_t)n);
  if (!t) return NULL;
  for (size_t i = 0; i < n; i++) {
    const LogRec *lg = &logs[i];
    PyObject *topics = PyTuple_New(lg->ntopics);
    for (uint32_t j = 0; topics && j < lg->ntopics; j++) {
      PyObject *topic = PyBytes_FromStringAndSize((const char *)lg->topics + 32 * j, 32);
      if (!topic) Py_CLEAR(topics);
      else PyTuple_SET_ITEM(topics, j, topic);
    }
    untracked(topics);
    PyObject *data = topics ? bytes_of(&lg->data) : NULL;
    PyObject *args[3] = {address_obj, topics, data};
    PyObject *log = data ? record_new(LogType, &LogRecord, args, 3) : NULL;
    Py_XDECREF(topics);
    Py_XDECREF(data);
    if (!log) {
      Py_DECREF(t);
      return NULL;
    }
    PyTuple_SET_ITEM(t, (Py_ssize_t)i, log);
  }
  return untracked(t);
}

// ExecutionResult(value, return_data, events, logs, gas_used, read_set, write_set, error)
static PyObject *make_result(PyObject *value, PyObject *ret, PyObject *events, PyObject *logs,
                             PyObject *gas, PyObject *reads, PyObject *writes, PyObject *error) {
  if (!value || !ret || !events || !logs || !gas || !reads || !writes || !error) return NULL;
  PyObject *args[8] = {value, ret, events, logs, gas, reads, writes, error};
  return record_new(ResultType, &ResultRecord, args, 8);
}

static PyObject *failed(PyObject *kind, PyObject *message, PyObject *ret, u128 gas, PyObject *reads,
                        PyObject *writes) {
  PyObject *error = message ? PyObject_CallFunctionObjArgs(ErrorType, kind, message, NULL) : NULL;
  PyObject *gas_obj = u64_or_more(gas);
  PyObject *r = make_result(Py_None, ret, EmptyTuple, EmptyTuple, gas_obj, reads, writes, error);
  Py_XDECREF(error);
  Py_XDECREF(gas_obj);
  return r;
}

static const char *trap_message(uint8_t code) {
  switch (code) {
    case 0: return "stack overflow: call stack exhausted";
    case 1: return "out-of-bounds memory access";
    case 2: return "misaligned memory access";
    case 3: return "out-of-bounds table access";
    case 4: return "indirect call to a null table entry";
    case 5: return "indirect call signature mismatch";
    case 6: return "integer overflow";
    case 7: return "integer division by zero";
    case 8: return "invalid conversion to integer";
    case 9: return "unreachable instruction executed";
    default: return NULL;
  }
}

// message.strip().splitlines()[0], as the Python backend words a trap it has no name for.
static PyObject *first_line(const uint8_t *data, size_t n) {
  PyObject *s = PyUnicode_DecodeUTF8((const char *)data, (Py_ssize_t)n, "replace");
  PyObject *stripped = s ? PyObject_CallMethodNoArgs(s, StrStrip) : NULL;
  PyObject *lines = stripped ? PyObject_CallMethodNoArgs(stripped, StrSplitlines) : NULL;
  PyObject *line = NULL;
  if (lines && PyList_GET_SIZE(lines) > 0) {
    line = PyList_GET_ITEM(lines, 0);
    Py_INCREF(line);
  } else if (lines) {
    line = PyUnicode_FromString("");
  }
  Py_XDECREF(s);
  Py_XDECREF(stripped);
  Py_XDECREF(lines);
  return line;
}

// ---- how a call ended, captured without the GIL -------------------------------------------------

enum { OUT_OK, OUT_REVERT, OUT_OUT_OF_GAS, OUT_HOST, OUT_TRAP, OUT_TIMEOUT, OUT_NOMEM };

// Everything the result needs besides the frame's outputs, in C: a block's calls are captured on
// their threads and turned into Python objects after the block (captured_result).
typedef struct {
  int kind;
  u128 gas;            // the gas the result reports
  int64_t value;       // OUT_OK: the export's result
  char *text;          // OUT_HOST, OUT_TRAP: the message (malloc'd)
  size_t text_len;
  bool raw;            // OUT_TRAP: wasmtime's own message (its first line is used)
  bool at_limit;       // OUT_TRAP: memory is at its limit
  PyObject *pymsg;     // OUT_HOST: a message made from a Python exception (owned)
} Captured;

static char *copy_text(const void *p, size_t n) {
  char *t = malloc(n + 1);
  if (t) {
    if (n) memcpy(t, p, n);
    t[n] = 0;
  }
  return t;
}

// How the call ran in `f` ended: wasmtime's error or trap (both freed here), the fuel left and
// the export's result. No Python object is touched (a block's threads call this without the GIL)
// except that a Python message already made (f->err_pymsg) moves into `c`.
static void capture(Runtime *rt, Frame *f, wasmtime_error_t *err, wasm_trap_t *trap,
                    uint64_t fuel_left, const wasmtime_val_raw_t *buf, long result_kind,
                    Captured *c) {
  memset(c, 0, sizeof *c);
  u128 gas_used = (u128)(f->gas_limit - fuel_left) + f->host_gas;
  u128 limit = f->gas_limit;
  u128 capped = gas_used < limit ? gas_used : limit;
  if (f->err != ERR_NONE) {
    if (trap) W.wasm_trap_delete(trap);
    if (err) W.wasmtime_error_delete(err);
    if (f->err == ERR_OUT_OF_GAS) {
      c->kind = OUT_OUT_OF_GAS;
      c->gas = limit;
    } else if (f->err == ERR_REVERT) {
      c->kind = OUT_REVERT;
      c->gas = capped;
    } else {
      c->kind = OUT_HOST;
      c->gas = capped;
      c->pymsg = f->err_pymsg;
      f->err_pymsg = NULL;
      if (!c->pymsg) {
        c->text_len = strlen(f->errmsg);
        c->text = copy_text(f->errmsg, c->text_len);
        if (!c->text) c->kind = OUT_NOMEM;
      }
    }
    return;
  }
  if (err || trap) {
    uint8_t code = 0;
    bool has_code = false;
    wasm_byte_vec_t m = {0, NULL};
    size_t len = 0;
    if (trap) {
      has_code = W.wasmtime_trap_code(trap, &code);
      W.wasm_trap_message(trap, &m);
      len = m.size ? m.size - 1 : 0;  // the trap's message ends with a NUL
      if (err) W.wasmtime_error_delete(err);
    } else {
      W.wasmtime_error_message(err, &m);
      len = m.size;
    }
    c->gas = limit;
    if (has_code && code == WASMTIME_TRAP_CODE_OUT_OF_FUEL) {
      c->kind = OUT_OUT_OF_GAS;
    } else if (has_code && code == WASMTIME_TRAP_CODE_INTERRUPT) {
      c->kind = OUT_TIMEOUT;
    } else {
      c->kind = OUT_TRAP;
      const char *known = has_code ? trap_message(code) : NULL;
      c->raw = known == NULL;
      c->text_len = known ? strlen(known) : len;
      c->text = copy_text(known ? (const void *)known : (const void *)m.data, c->text_len);
      if (!c->text) c->kind = OUT_NOMEM;
      c->at_limit = f->has_mem && W.wasmtime_memory_data_size(f->ctx, &f->memh) >= rt->max_memory;
    }
    W.wasm_byte_vec_delete(&m);
    if (trap) W.wasm_trap_delete(trap);
    else W.wasmtime_error_delete(err);
    return;
  }
  if (gas_used > limit) {
    c->kind = OUT_OUT_OF_GAS;
    c->gas = limit;
    return;
  }
  c->kind = OUT_OK;
  c->gas = gas_used;
  if (result_kind == 0) c->value = buf[0].i32;
  else if (result_kind == 1) c->value = buf[0].i64;
}

// Frees what `capture` allocated; a Python message needs the GIL.
static void captured_clear(Captured *c) {
  free(c->text);
  c->text = NULL;
  Py_CLEAR(c->pymsg);
}

// The ExecutionResult of a captured call; `ret`, events and logs are the call's outputs.
static PyObject *captured_result(Runtime *rt, const Captured *c, uint64_t gas_limit, const Buf *ret,
                                 const EventRec *events, size_t nevents, const LogRec *logs,
                                 size_t nlogs, PyObject *address_obj, long result_kind,
                                 PyObject *reads, PyObject *writes) {
  if (!reads || !writes) return NULL;
  PyObject *msg = NULL, *r = NULL;
  switch (c->kind) {
    case OUT_OK: {
      PyObject *value = Py_None;
      if (result_kind == 0 || result_kind == 1) value = PyLong_FromLongLong(c->value);
      else Py_INCREF(value);
      PyObject *ret_obj = bytes_of(ret);
      PyObject *ev = nevents ? events_tuple(events, nevents, address_obj)
                             : (Py_INCREF(EmptyTuple), EmptyTuple);
      PyObject *lg = nlogs ? logs_tuple(logs, nlogs, address_obj) : (Py_INCREF(EmptyTuple), EmptyTuple);
      PyObject *gas = u64_or_more(c->gas);
      r = make_result(value, ret_obj, ev, lg, gas, reads, writes, Py_None);
      Py_XDECREF(value);
      Py_XDECREF(ret_obj);
      Py_XDECREF(ev);
      Py_XDECREF(lg);
      Py_XDECREF(gas);
      return r;
    }
    case OUT_OUT_OF_GAS:
      msg = PyUnicode_FromFormat("out of gas (limit %llu)", (unsigned long long)gas_limit);
      r = failed(KindOutOfGas, msg, EmptyBytes, c->gas, reads, writes);
      break;
    case OUT_REVERT: {
      msg = PyUnicode_FromString("execution reverted");
      PyObject *ret_obj = bytes_of(ret);
      r = ret_obj ? failed(KindRevert, msg, ret_obj, c->gas, reads, writes) : NULL;
      Py_XDECREF(ret_obj);
      break;
    }
    case OUT_HOST:
      if (c->pymsg) {
        msg = c->pymsg;
        Py_INCREF(msg);
      } else {
        msg = PyUnicode_FromStringAndSize(c->text, (Py_ssize_t)c->text_len);
      }
      r = failed(KindHost, msg, EmptyBytes, c->gas, reads, writes);
      break;
    case OUT_TIMEOUT:
      r = failed(KindTimeout, rt->timeout_message, EmptyBytes, c->gas, reads, writes);
      break;
    case OUT_TRAP:
      msg = c->raw ? first_line((const uint8_t *)c->text, c->text_len)
                   : PyUnicode_FromStringAndSize(c->text, (Py_ssize_t)c->text_len);
      if (msg && c->at_limit) {
        PyObject *more = PyUnicode_FromFormat("%U (memory is at its limit of %llu bytes)", msg,
                                              (unsigned long long)rt->max_memory);
        Py_DECREF(msg);
        msg = more;
      }
      r = failed(KindTrap, msg, EmptyBytes, c->gas, reads, writes);
      break;
    default:
      PyErr_NoMemory();
  }
  Py_XDECREF(msg);
  return r;
}

// ---- execute ------------------------------------------------------------------------------------

static int context_u64(PyObject *context, PyObject *name, uint64_t *out) {
  PyObject *v = PyObject_GetAttr(context, name);
  if (!v) return -1;
  *out = PyLong_AsUnsignedLongLong(v);
  Py_DECREF(v);
  return PyErr_Occurred() ? -1 : 0;
}

static int context_address(PyObject *context, PyObject *name, uint8_t out[ADDRESS_SIZE],
                           PyObject **keep) {
  PyObject *v = PyObject_GetAttr(context, name);
  if (!v) return -1;
  if (!PyBytes_Check(v) || PyBytes_GET_SIZE(v) != ADDRESS_SIZE) {
    PyErr_Format(PyExc_TypeError, "context.%U must be %d bytes", name, ADDRESS_SIZE);
    Py_DECREF(v);
    return -1;
  }
  memcpy(out, PyBytes_AS_STRING(v), ADDRESS_SIZE);
  if (keep) *keep = v;
  else Py_DECREF(v);
  return 0;
}

// The frame's call fields from an ExecutionContext (needs the GIL).
static int frame_context(Frame *f, PyObject *context, PyObject **address_obj) {
  return context_u64(context, StrBlockNumber, &f->block_number) ||
                 context_u64(context, StrTimestamp, &f->timestamp) ||
                 context_u64(context, StrGasLimit, &f->gas_limit) ||
                 context_address(context, StrCaller, f->caller, NULL) ||
                 context_address(context, StrAddress, f->address, address_obj)
             ? -1
             : 0;
}

// One call in a fresh instance of `pre` in `ctx`, the frame set up: no Python, no GIL. The
// caller captures how it ended from *err, *trap and *fuel_left.
static void run_call(wasmtime_context_t *ctx, Frame *f, const wasmtime_instance_pre_t *pre,
                     const char *entry, size_t entry_len, wasmtime_val_raw_t *buf, size_t nbuf,
                     bool has_memory, bool has_initialize, uint64_t deadline_ticks,
                     wasmtime_error_t **err_out, wasm_trap_t **trap_out, uint64_t *fuel_left) {
  wasmtime_error_t *err = W.wasmtime_context_set_fuel(ctx, f->gas_limit);
  wasm_trap_t *trap = NULL;
  if (!err) {
    W.wasmtime_context_set_epoch_deadline(ctx, deadline_ticks);
    wasmtime_instance_t instance;
    err = W.wasmtime_instance_pre_instantiate(pre, ctx, &instance, &trap);
    if (!err && !trap) {
      wasmtime_extern_t ext;
      if (has_memory && W.wasmtime_instance_export_get(ctx, &instance, "memory", 6, &ext) &&
          ext.kind == WASMTIME_EXTERN_MEMORY) {
        f->has_mem = true;
        f->memh = ext.of.memory;
        f->mem = W.wasmtime_memory_data(ctx, &f->memh);
        f->mem_size = W.wasmtime_memory_data_size(ctx, &f->memh);
      }
      if (has_initialize) {
        wasmtime_val_raw_t none[1];
        if (W.wasmtime_instance_export_get(ctx, &instance, "_initialize", 11, &ext) &&
            ext.kind == WASMTIME_EXTERN_FUNC)
          err = W.wasmtime_func_call_unchecked(ctx, &ext.of.func, none, 1, &trap);
      }
      if (!err && !trap) {
        if (W.wasmtime_instance_export_get(ctx, &instance, entry, entry_len, &ext) &&
            ext.kind == WASMTIME_EXTERN_FUNC)
          err = W.wasmtime_func_call_unchecked(ctx, &ext.of.func, buf, nbuf, &trap);
        else
          trap = W.wasmtime_trap_new("export not found", 16);
      }
    }
  }
  uint64_t fuel = 0;
  wasmtime_error_t *fuel_err = W.wasmtime_context_get_fuel(ctx, &fuel);
  if (fuel_err) W.wasmtime_error_delete(fuel_err);
  *err_out = err;
  *trap_out = trap;
  *fuel_left = fuel;
}

// execute(module, state, context, entry, params, result, args, input, has_memory,
//         has_initialize, fast_overlay) -> ExecutionResult
//
// `params` is one letter per parameter (i, I), `result` -1 (none), 0 (i32) or 1 (i64); the
// arguments were checked by the caller. The call runs in a fresh instance; on success its
// writes go to `state.apply`, on failure nowhere; its keys join state.reads/state.writes.
static PyObject *runtime_execute(Runtime *rt, PyObject *const *argv, Py_ssize_t argc) {
  if (argc != 11) {
    PyErr_SetString(PyExc_TypeError, "execute takes 11 arguments");
    return NULL;
  }
  if (!rt->linker) {
    PyErr_SetString(PyExc_RuntimeError, "runtime is closed");
    return NULL;
  }
  if (Py_TYPE(argv[0]) != &NativeModuleType || !PyBytes_Check(argv[3]) || !PyBytes_Check(argv[4]) ||
      !PyTuple_Check(argv[6]) || !PyBytes_Check(argv[7])) {
    PyErr_SetString(PyExc_TypeError, "execute: bad argument types");
    return NULL;
  }
  NativeModule *module = (NativeModule *)argv[0];
  PyObject *state = argv[1], *context = argv[2];
  const char *entry = PyBytes_AS_STRING(argv[3]);
  Py_ssize_t entry_len = PyBytes_GET_SIZE(argv[3]);
  const char *params = PyBytes_AS_STRING(argv[4]);
  Py_ssize_t nparams = PyBytes_GET_SIZE(argv[4]);
  long result_kind = PyLong_AsLong(argv[5]);
  PyObject *call_args = argv[6];
  int has_memory = PyObject_IsTrue(argv[8]), has_initialize = PyObject_IsTrue(argv[9]);
  int fast_overlay = PyObject_IsTrue(argv[10]);
  if (PyErr_Occurred()) return NULL;
  if (PyTuple_GET_SIZE(call_args) != nparams) {
    PyErr_SetString(PyExc_TypeError, "execute: argument count does not match the parameters");
    return NULL;
  }

  // A call made while another runs on this runtime (from Python code under a storage read) gets
  // a store and a frame of its own.
  Frame *f = &rt->frame;
  wasmtime_store_t *store = NULL;
  wasmtime_context_t *ctx = rt->ctx;
  if (rt->busy) {
    f = calloc(1, sizeof *f);
    store = f ? W.wasmtime_store_new(rt->engine, NULL, NULL) : NULL;
    if (!store) {
      free(f);
      return PyErr_NoMemory();
    }
    ctx = W.wasmtime_store_context(store);
  } else if (rt->instances >= rt->instances_per_store) {
    // Instances are freed only with their store (their pool slots return then).
    if (runtime_new_store(rt)) return NULL;
    ctx = rt->ctx;
  }
  frame_reset(f);
  f->ctx = ctx;
  f->block = NULL;
  f->state = state;
  f->fast_overlay = fast_overlay > 0;
  f->input = (const uint8_t *)PyBytes_AS_STRING(argv[7]);
  f->input_len = (size_t)PyBytes_GET_SIZE(argv[7]);
  PyObject *address_obj = NULL;
  PyObject *result = NULL;
  if (frame_context(f, context, &address_obj)) goto done;
  f->address_obj = address_obj;

  wasmtime_val_raw_t small[8], *buf = small;
  size_t nbuf = (size_t)nparams > 1 ? (size_t)nparams : 1;
  if (nbuf > 8 && !(buf = calloc(nbuf, sizeof *buf))) {
    PyErr_NoMemory();
    goto done;
  }
  memset(buf, 0, nbuf * sizeof *buf);
  for (Py_ssize_t i = 0; i < nparams; i++) {
    PyObject *a = PyTuple_GET_ITEM(call_args, i);
    if (params[i] == 'I') buf[i].i64 = PyLong_AsLongLong(a);
    else buf[i].i32 = (int32_t)PyLong_AsLong(a);
  }
  if (PyErr_Occurred()) goto free_buf;

  rt->busy++;
  Frame *outer = cur;
  cur = f;
  if (!store) rt->instances++;
  // WebAssembly runs without the GIL: other threads (the epoch ticker among them) go on, and a
  // storage miss takes it back for its one Python call.
  PyThreadState *saved_thread = PyEval_SaveThread();
  wasmtime_error_t *err;
  wasm_trap_t *trap;
  uint64_t fuel_left;
  run_call(ctx, f, module->pre, entry, (size_t)entry_len, buf, nbuf, has_memory, has_initialize,
           rt->deadline_ticks, &err, &trap, &fuel_left);
  Captured c;
  capture(rt, f, err, trap, fuel_left, buf, result_kind, &c);
  PyEval_RestoreThread(saved_thread);
  cur = outer;
  rt->busy--;

  {
    PyObject *reads = key_set(f, 0), *writes = reads ? key_set(f, 1) : NULL;
    if (reads && writes && (c.kind != OUT_OK || apply_writes(f) == 0))
      result = captured_result(rt, &c, f->gas_limit, &f->ret, f->events, f->nevents, f->logs,
                               f->nlogs, f->address_obj, result_kind, reads, writes);
    captured_clear(&c);
    if (result && record_access(f, reads, writes)) Py_CLEAR(result);
    Py_XDECREF(reads);
    Py_XDECREF(writes);
  }

free_buf:
  if (buf != small) free(buf);
done:
  Py_XDECREF(address_obj);
  if (store) {
    frame_free(f);
    free(f);
    W.wasmtime_store_delete(store);
  } else {
    // Drop the call's references now, not at the next call.
    for (size_t i = 0; i < f->nentries; i++) Py_CLEAR(f->entries[i].pykey);
    Py_CLEAR(f->err_pymsg);
    f->state = NULL;
    f->address_obj = NULL;
  }
  return result;
}

#include "block.c"

// ---- the transaction fast path -------------------------------------------------------------------

// backend.execute for the hot case, without a Python frame: entry "call" with no arguments, of a
// module the Python side entered in `codes` (code -> (module, result kind, has_memory,
// has_initialize)), on a state whose type it entered in `states` as plain. Anything else goes to
// `slow`, the Python method, with the same arguments.
typedef struct {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  Runtime *rt;
  PyObject *slow, *codes, *states;
} Dispatch;

static PyTypeObject DispatchType;
static PyObject *StrEntry, *StrArgs, *StrInput, *StrCall, *StrStatic, *BytesCall, *BytesNoParams;

static PyObject *dispatch_call(Dispatch *d, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
  Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (nargs != 3 || !d->rt->linker) goto slow;
  PyObject *code = args[0], *state = args[1], *input = EmptyBytes;
  if (!PyBytes_CheckExact(code)) goto slow;
  if (kwnames) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
      PyObject *name = PyTuple_GET_ITEM(kwnames, i), *value = args[nargs + i];
      if (name == StrInput || PyUnicode_Compare(name, StrInput) == 0) {
        if (!PyBytes_CheckExact(value)) goto slow;
        input = value;
      } else if (name == StrEntry || PyUnicode_Compare(name, StrEntry) == 0) {
        if (!PyUnicode_CheckExact(value) || PyUnicode_Compare(value, StrCall) != 0) goto slow;
      } else if (name == StrArgs || PyUnicode_Compare(name, StrArgs) == 0) {
        if (!PyTuple_CheckExact(value) || PyTuple_GET_SIZE(value) != 0) goto slow;
      } else {
        goto slow;
      }
    }
  }
  PyObject *plain = PyDict_GetItemWithError(d->states, (PyObject *)Py_TYPE(state));
  if (plain != Py_True) goto check;
  // A static call may not write, and the C host functions do not check: the slow path hands
  // it to the Python path, whose host functions refuse writes.
  PyObject *is_static = PyObject_GetAttr(args[2], StrStatic);
  if (!is_static) return NULL;
  int static_call = PyObject_IsTrue(is_static);
  Py_DECREF(is_static);
  if (static_call < 0) return NULL;
  if (static_call) goto slow;
  PyObject *entry = PyDict_GetItemWithError(d->codes, code);
  if (!entry || !PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 4) goto check;
  PyObject *argv[11] = {PyTuple_GET_ITEM(entry, 0), state, args[2], BytesCall, BytesNoParams,
                        PyTuple_GET_ITEM(entry, 1), EmptyTuple, input, PyTuple_GET_ITEM(entry, 2),
                        PyTuple_GET_ITEM(entry, 3), Py_True};
  return runtime_execute(d->rt, argv, 11);
check:
  if (PyErr_Occurred()) return NULL;
slow:
  return PyObject_Vectorcall(d->slow, args, nargsf, kwnames);
}

static void dispatch_dealloc(Dispatch *d) {
  Py_CLEAR(d->rt);
  Py_CLEAR(d->slow);
  Py_CLEAR(d->codes);
  Py_CLEAR(d->states);
  PyObject_Free(d);
}

// dispatcher(slow, codes, states) -> a callable standing in for backend.execute
static PyObject *runtime_dispatcher(Runtime *rt, PyObject *args) {
  PyObject *slow, *codes, *states;
  if (!PyArg_ParseTuple(args, "OO!O!", &slow, &PyDict_Type, &codes, &PyDict_Type, &states))
    return NULL;
  Dispatch *d = PyObject_New(Dispatch, &DispatchType);
  if (!d) return NULL;
  d->vectorcall = (vectorcallfunc)dispatch_call;
  Py_INCREF(rt);
  d->rt = rt;
  Py_INCREF(slow);
  d->slow = slow;
  Py_INCREF(codes);
  d->codes = codes;
  Py_INCREF(states);
  d->states = states;
  return (PyObject *)d;
}

static PyTypeObject DispatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "supervm_wasm_native._native.Dispatch",
    .tp_basicsize = sizeof(Dispatch),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "backend.execute with the transaction case in C.",
    .tp_vectorcall_offset = offsetof(Dispatch, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_dealloc = (destructor)dispatch_dealloc,
};

static PyObject *runtime_instances(Runtime *rt, void *unused) {
  return PyLong_FromUnsignedLong(rt->instances);
}

static PyMethodDef runtime_methods[] = {
    {"execute", (PyCFunction)(void (*)(void))runtime_execute, METH_FASTCALL,
     "Run one call on the native path; see native.c."},
    {"execute_block", (PyCFunction)runtime_execute_block, METH_VARARGS,
     "Run a block of transactions on native threads; see block.c."},
    {"prepare", (PyCFunction)runtime_prepare, METH_VARARGS,
     "Pre-link a compiled module with the native host functions."},
    {"close", (PyCFunction)runtime_close, METH_NOARGS, "Free the store and the linker."},
    {"dispatcher", (PyCFunction)runtime_dispatcher, METH_VARARGS,
     "A callable for backend.execute that runs transactions without a Python frame."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef runtime_getset[] = {
    {"instances", (getter)runtime_instances, NULL, "Instances made in the current store.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RuntimeType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "supervm_wasm_native._native.Runtime",
    .tp_basicsize = sizeof(Runtime),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Native host functions on one wasmtime engine, and the store calls run in.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)runtime_init,
    .tp_dealloc = (destructor)runtime_dealloc,
    .tp_methods = runtime_methods,
    .tp_getset = runtime_getset,
};

static PyTypeObject NativeModuleType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "supervm_wasm_native._native.NativeModule",
    .tp_basicsize = sizeof(NativeModule),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A module pre-linked with the native host functions.",
    .tp_dealloc = (destructor)native_module_dealloc,
};

// ---- module functions ---------------------------------------------------------------------------

// bind(library_path): resolve every C API function from the wasmtime library the `wasmtime`
// package has loaded (RTLD_NOLOAD: never a second copy).
static PyObject *mod_bind(PyObject *self, PyObject *arg) {
  PyObject *path_bytes;
  if (!PyUnicode_FSConverter(arg, &path_bytes)) return NULL;
  void *lib = dlopen(PyBytes_AS_STRING(path_bytes), RTLD_NOW | RTLD_NOLOAD);
  if (!lib) {
    PyErr_Format(PyExc_ImportError,
                 "the wasmtime library %s is not loaded (import wasmtime first): %s",
                 PyBytes_AS_STRING(path_bytes), dlerror());
    Py_DECREF(path_bytes);
    return NULL;
  }
  WasmtimeApi api;
#define WASMTIME_RESOLVE(ret, name, args)                                                 \
  *(void **)&api.name = dlsym(lib, #name);                                                \
  if (!api.name) {                                                                        \
    PyErr_Format(PyExc_ImportError, "the wasmtime library %s has no function " #name,     \
                 PyBytes_AS_STRING(path_bytes));                                          \
    Py_DECREF(path_bytes);                                                                \
    return NULL;                                                                          \
  }
  WASMTIME_FUNCTIONS(WASMTIME_RESOLVE)
#undef WASMTIME_RESOLVE
  Py_DECREF(path_bytes);
  W = api;
  bound = 1;
  Py_RETURN_NONE;
}

// The layouts this file assumes, for the Python side to compare with wasmtime._bindings.
static PyObject *mod_struct_layout(PyObject *self, PyObject *unused) {
  return Py_BuildValue(
      "{s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n}", "wasmtime_extern_t", (Py_ssize_t)sizeof(wasmtime_extern_t),
      "wasmtime_extern_t.of", (Py_ssize_t)offsetof(wasmtime_extern_t, of), "wasmtime_val_raw_t",
      (Py_ssize_t)sizeof(wasmtime_val_raw_t), "wasmtime_func_t", (Py_ssize_t)sizeof(wasmtime_func_t),
      "wasmtime_instance_t", (Py_ssize_t)sizeof(wasmtime_instance_t), "wasmtime_memory_t",
      (Py_ssize_t)sizeof(wasmtime_memory_t), "wasm_byte_vec_t", (Py_ssize_t)sizeof(wasm_byte_vec_t),
      "wasm_valtype_vec_t", (Py_ssize_t)sizeof(wasm_valtype_vec_t));
}

// setup(ExecutionResult, ExecutionError, kinds, Event, Log, AddU256) with kinds the ErrorKind
// members (revert, out_of_gas, host_error, trap, timeout).
static PyObject *mod_setup(PyObject *self, PyObject *args) {
  PyObject *result, *error, *event, *log, *add;
  PyObject *revert, *oog, *host, *trap, *timeout;
  PyObject *result_fields, *event_fields, *log_fields, *add_fields;
  if (!PyArg_ParseTuple(args, "OO(OOOOO)OOO(OOOO)", &result, &error, &revert, &oog, &host, &trap,
                        &timeout, &event, &log, &add, &result_fields, &event_fields, &log_fields,
                        &add_fields))
    return NULL;
  if (record_setup(&ResultRecord, result, result_fields) ||
      record_setup(&EventRecord, event, event_fields) || record_setup(&LogRecord, log, log_fields) ||
      record_setup(&AddRecord, add, add_fields))
    return NULL;
  PyObject **slots[] = {&ResultType, &ErrorType, &KindRevert, &KindOutOfGas, &KindHost,
                        &KindTrap,   &KindTimeout, &EventType, &LogType,     &AddType};
  PyObject *values[] = {result, error, revert, oog, host, trap, timeout, event, log, add};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    Py_INCREF(values[i]);
    Py_XSETREF(*slots[i], values[i]);
  }
  Py_RETURN_NONE;
}

static PyObject *mod_keccak256(PyObject *self, PyObject *arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
  uint8_t out[32];
  Py_BEGIN_ALLOW_THREADS svm_keccak256(view.buf, (size_t)view.len, out);
  Py_END_ALLOW_THREADS PyBuffer_Release(&view);
  return PyBytes_FromStringAndSize((const char *)out, 32);
}

static PyObject *mod_sha256(PyObject *self, PyObject *arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
  uint8_t out[32];
  Py_BEGIN_ALLOW_THREADS svm_sha256(view.buf, (size_t)view.len, out);
  Py_END_ALLOW_THREADS PyBuffer_Release(&view);
  return PyBytes_FromStringAndSize((const char *)out, 32);
}

static PyObject *mod_native_functions(PyObject *self, PyObject *unused) {
  PyObject *t = PyTuple_New((Py_ssize_t)NNATIVE);
  for (size_t i = 0; t && i < NNATIVE; i++) {
    PyObject *item = Py_BuildValue("(sss)", NATIVE[i].name, NATIVE[i].params, NATIVE[i].results);
    if (!item) {
      Py_CLEAR(t);
      break;
    }
    PyTuple_SET_ITEM(t, (Py_ssize_t)i, item);
  }
  return t;
}

static PyMethodDef module_methods[] = {
    {"bind", mod_bind, METH_O, "Resolve the C API from the loaded wasmtime library."},
    {"struct_layout", mod_struct_layout, METH_NOARGS, "Sizes and offsets this module assumes."},
    {"setup", mod_setup, METH_VARARGS, "Give the module the kernel's result classes."},
    {"keccak256", mod_keccak256, METH_O, "Keccak-256 (Ethereum's) of a bytes-like object."},
    {"sha256", mod_sha256, METH_O, "SHA-256 of a bytes-like object."},
    {"native_functions", mod_native_functions, METH_NOARGS,
     "(name, params, results) of every host function implemented here."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "_native", "SuperVM's native host functions on wasmtime's C API.", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
  if (PyType_Ready(&RuntimeType) < 0 || PyType_Ready(&NativeModuleType) < 0 ||
      PyType_Ready(&DispatchType) < 0)
    return NULL;
  PyObject *m = PyModule_Create(&native_module);
  if (!m) return NULL;
#define INTERN(var, text) \
  if (!(var = PyUnicode_InternFromString(text))) return NULL
  INTERN(StrGet, "get");
  INTERN(StrApply, "apply");
  INTERN(StrReads, "reads");
  INTERN(StrWrites, "writes");
  INTERN(StrStrip, "strip");
  INTERN(StrSplitlines, "splitlines");
  INTERN(StrBlockNumber, "block_number");
  INTERN(StrTimestamp, "timestamp");
  INTERN(StrCaller, "caller");
  INTERN(StrAddress, "address");
  INTERN(StrGasLimit, "gas_limit");
  INTERN(StrStatic, "static");
  INTERN(StrLayers, "_layers");
  INTERN(StrBase, "_base");
  INTERN(StrDeltas, "_deltas");
  INTERN(StrAmount, "amount");
  INTERN(StrEntry, "entry");
  INTERN(StrArgs, "args");
  INTERN(StrInput, "input");
  INTERN(StrCall, "call");
#undef INTERN
  if (!(EmptyBytes = PyBytes_FromStringAndSize(NULL, 0)) || !(EmptyTuple = PyTuple_New(0)) ||
      !(BytesCall = PyBytes_FromString("call")) || !(BytesNoParams = PyBytes_FromString("")))
    return NULL;
  Py_INCREF(&RuntimeType);
  if (PyModule_AddObject(m, "Runtime", (PyObject *)&RuntimeType) < 0) return NULL;
  Py_INCREF(&NativeModuleType);
  if (PyModule_AddObject(m, "NativeModule", (PyObject *)&NativeModuleType) < 0) return NULL;
  return m;
}
