// The block executor: a block's calls on native threads, the GIL released for the whole block.
//
// Included by native.c (it uses the frame, the host functions and the result builders there).
//
// Optimistic execution with validation in block order (Block-STM's idea, the prototype's shape):
// N threads (the caller's and N-1 pthreads, each with a wasmtime store of its own) take calls
// from a shared counter and run them against the block's state cache: the values committed so
// far by earlier calls, or the pre-block value. Whoever holds the commit lock commits finished
// calls in block order; a call is committed only after every value it read is checked to be
// still the one committed (a slot version per key), and a stale call is run again on the spot,
// under the lock, where it sees exactly the serial state. Additions (storage_add) are deltas: a
// call that only adds to a key does not read it, so it conflicts with nobody, and the sum is
// worked out at commit. Too many re-executions and the other threads stop speculating: the
// committer runs the rest in order (the serial fallback).
//
// The state cache is a hash map of slots (key, value, version), created for the block. It is
// filled before the block with the keys Python knows of (prefetch), and on a miss by the thread
// that missed: it takes the cache's lock, then the GIL, for one read of the pre-block value
// through the overlay (StateOverlay.peek's logic), so the overlay stays the single source of
// truth. Values are immutable once published (a commit publishes a new one), so readers copy
// them without locks; a version read before and after the value makes the pair consistent.
//
// Nothing reaches Python during the block. Afterwards, with the GIL, the results are built (the
// same builders as the single-call path), the net changes go into the overlay's innermost layer
// in the order of their first write (what applying the calls one by one leaves there), and the
// keys join its read and write sets. Anything unexpected (the cache full, a failing storage, no
// memory) abandons the block before the overlay is touched: the caller then runs it serially.
#include <pthread.h>
#include <sched.h>
#include <time.h>

#define BLOCK_MAX_THREADS 8
#define BLOCK_SPIN 64
// Instances the lanes may hold at once, shared among them (the engine pools 256, and the
// Python backend's store holds up to 100; the runtime's own store is emptied before a block).
#define LANE_INSTANCES 128
// Speculative results validated before the hot-spot rule may switch the block to serial.
#define HOT_MIN_CHECKED 32
// Committed calls whose results the caller's thread builds at once, while the others execute.
#define BUILD_BATCH 64
#define KEY_ARENA_CHUNK (64 * 1024)
#define ARENA_CHUNK (256 * 1024)
#define ARENA_KEEP 64  // chunks a lane keeps between blocks (16 MiB)

// A published value: immutable, freed with the block.
typedef struct {
  uint32_t len;
  uint8_t present;
  uint8_t data[];
} Val;

enum { NET_NONE, NET_SET, NET_DEL, NET_ADD };

typedef struct {
  uint64_t hash;
  const uint8_t *key;
  uint32_t klen;
  Val *val;          // atomic; NULL until filled or committed
  uint32_t version;  // atomic; bumped by each commit of a write
  // The net change to the overlay's layer, kept by the committer.
  int32_t order;  // position among the block's written keys, -1 before the first write
  uint8_t net;
  uint8_t added;  // an addition merged while nothing but additions had been applied
  uint8_t in_reads, in_writes;
  uint8_t netdelta[32];
  Val *netval;
  PyObject *pykey;
} Slot;

// A lane's bump allocator: what its calls leave (values, outputs, access lists) lives until the
// end of the block, then goes at once. No locking: a lane belongs to one thread.
typedef struct {
  uint8_t **chunks;
  size_t nchunks, chunks_cap, cur, used;
  void **big;  // allocations larger than a quarter chunk, freed at reset
  size_t nbig, big_cap;
} Arena;

typedef struct Lane {
  wasmtime_store_t *store;
  wasmtime_context_t *ctx;
  uint32_t instances, per_store;
  Frame frame;
  Arena arena;
} Lane;

typedef struct {
  NativeModule *module;
  PyObject *item;  // the (handle, context, input, ...) tuple, kept alive through the block
  PyObject *address_obj;
  const uint8_t *input;
  size_t input_len;
  uint8_t caller[ADDRESS_SIZE], address[ADDRESS_SIZE];
  uint64_t block_number, timestamp, gas_limit;
  long result_kind;
  bool has_memory, has_initialize;
} BlockCall;

typedef struct {
  uint32_t slot;
  uint8_t top;
  uint8_t delta[32];
  Val *val;  // TOP_SET
} WriteOp;

typedef struct {
  uint32_t slot, version;
} Check;

// What one execution of a call left: its outcome and outputs, and its accesses by slot.
// (The arrays and the output bytes live in the executing lane's arena.)
typedef struct {
  Captured c;
  Buf ret;  // cap 0: arena memory
  EventRec *events;
  LogRec *logs;
  uint32_t *reads, *writes;
  Check *checks;
  WriteOp *wops;
  uint32_t nevents, nlogs, nreads, nwrites, nchecks, nwops;
} CallOut;

enum { CALL_NEW, CALL_RUNNING, CALL_DONE };

typedef struct Block {
  Runtime *rt;
  // the state cache
  uint32_t *index;  // slot number + 1, 0 empty; atomic
  size_t index_cap;
  Slot *slots;
  size_t nslots, max_slots;  // nslots: atomic store under `lock`
  uint8_t **arenas;
  size_t narenas, arenas_cap, arena_used;
  int lock;  // inserts and fills (cache_lock); atomic
  Val absent;
  // the pre-block state (read with the GIL)
  PyObject *state, *layers, *base;
  // the calls
  size_t n;
  BlockCall *calls;
  CallOut *outs;
  uint8_t *status;  // CALL_*, atomic
  size_t next;      // the next call to take, atomic
  size_t committed;  // calls committed, atomic
  int commit_lock;   // atomic flag
  int serial;        // atomic: speculation stopped, the committer runs the rest
  int abort;         // atomic: the block is abandoned
  char abort_reason[256];
  size_t max_reexecutions;
  int threads;
  double hot_share;  // a larger share of stale speculative results: a hot spot, go serial
  // statistics (committer, except `executions` and the fills, which are atomic)
  size_t executions, reexecutions, misses, serial_from, checked;
  uint64_t fill_ns, setup_ns, build_ns;
  uint32_t *order;  // slots in the order of their first committed write
  size_t norder;
  // The results (a list of n, filled in block order): the caller's thread builds those of the
  // calls committed so far while the other threads execute (build_pending), the rest after.
  PyObject *results;
  size_t built, built_during;
} Block;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#else
#define CPU_RELAX() __asm__ __volatile__("" ::: "memory")
#endif

// The cache's lock is held for a slot insert or one fill (about a microsecond), by threads that
// each have a core: a thread that finds it taken spins, and only yields after a long wait (its
// holder preempted). A sleeping mutex cost a context switch each time two misses met, about one
// in eight misses at 10,000 fresh accounts, and each switch costs more than the fill.
static void cache_lock(Block *b) {
  for (unsigned spins = 0;; spins++) {
    if (!__atomic_load_n(&b->lock, __ATOMIC_RELAXED) &&
        !__atomic_exchange_n(&b->lock, 1, __ATOMIC_ACQUIRE))
      return;
    if (spins < 4096) CPU_RELAX();
    else sched_yield();
  }
}

static void cache_unlock(Block *b) { __atomic_store_n(&b->lock, 0, __ATOMIC_RELEASE); }

static void block_abort(Block *b, const char *fmt, ...) {
  cache_lock(b);
  if (!b->abort) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->abort_reason, sizeof b->abort_reason, fmt, ap);
    va_end(ap);
    STORE(&b->abort, 1);
  }
  cache_unlock(b);
}

// A growable array of `size`-byte items; -1 when memory runs out.
static int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap * 2 : 8;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * size);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}

static void *arena_alloc(Arena *a, size_t n) {
  n = (n + 7) & ~(size_t)7;
  if (n > ARENA_CHUNK / 4) {
    if (grow((void **)&a->big, &a->big_cap, a->nbig + 1, sizeof *a->big)) return NULL;
    void *p = malloc(n);
    if (p) a->big[a->nbig++] = p;
    return p;
  }
  if (!a->nchunks || a->used + n > ARENA_CHUNK) {
    if (a->nchunks && a->cur + 1 < a->nchunks) {
      a->cur++;
    } else {
      if (grow((void **)&a->chunks, &a->chunks_cap, a->nchunks + 1, sizeof *a->chunks)) return NULL;
      uint8_t *chunk = malloc(ARENA_CHUNK);
      if (!chunk) return NULL;
      a->chunks[a->nchunks++] = chunk;
      a->cur = a->nchunks - 1;
    }
    a->used = 0;
  }
  void *p = a->chunks[a->cur] + a->used;
  a->used += n;
  return p;
}

static void arena_reset(Arena *a, bool release) {
  for (size_t i = 0; i < a->nbig; i++) free(a->big[i]);
  a->nbig = 0;
  size_t keep = release ? 0 : ARENA_KEEP;
  while (a->nchunks > keep) free(a->chunks[--a->nchunks]);
  if (release) {
    free(a->chunks);
    free(a->big);
    memset(a, 0, sizeof *a);
  }
  a->cur = a->used = 0;
}

static void *arena_copy_bytes(Arena *a, const void *src, size_t n) {
  void *p = arena_alloc(a, n ? n : 1);
  if (p && n) memcpy(p, src, n);
  return p;
}

static Val *val_new(Block *b, Lane *lane, const uint8_t *data, size_t len) {
  Val *v = arena_alloc(&lane->arena, sizeof *v + (len ? len : 1));
  if (!v) return NULL;
  v->len = (uint32_t)len;
  v->present = 1;
  if (len) memcpy(v->data, data, len);
  return v;
}

// ---- the state cache ----------------------------------------------------------------------------

static const uint8_t *arena_copy(Block *b, const uint8_t *key, size_t klen) {  // under b->lock
  if (!b->narenas || b->arena_used + klen > KEY_ARENA_CHUNK) {
    if (grow((void **)&b->arenas, &b->arenas_cap, b->narenas + 1, sizeof *b->arenas)) return NULL;
    uint8_t *chunk = malloc(KEY_ARENA_CHUNK);
    if (!chunk) return NULL;
    b->arenas[b->narenas++] = chunk;
    b->arena_used = 0;
  }
  uint8_t *p = b->arenas[b->narenas - 1] + b->arena_used;
  memcpy(p, key, klen);
  b->arena_used += klen;
  return p;
}

static int32_t probe(Block *b, const uint8_t *key, size_t klen, uint64_t hash, size_t *at) {
  size_t mask = b->index_cap - 1, j = hash & mask;
  for (uint32_t id; (id = LOAD(&b->index[j])); j = (j + 1) & mask) {
    Slot *s = &b->slots[id - 1];
    if (s->hash == hash && s->klen == klen && memcmp(s->key, key, klen) == 0) return (int32_t)(id - 1);
  }
  *at = j;
  return -1;
}

// The slot of `key`, made (without a value) if there is none; -1 when the block is abandoned.
static int32_t block_slot(Block *b, const uint8_t *key, size_t klen, uint64_t hash) {
  size_t at;
  int32_t found = probe(b, key, klen, hash, &at);
  if (found >= 0) return found;
  cache_lock(b);
  found = probe(b, key, klen, hash, &at);  // another thread may have made it meanwhile
  if (found < 0 && !b->abort) {
    const uint8_t *copy = b->nslots < b->max_slots ? arena_copy(b, key, klen) : NULL;
    if (copy) {
      Slot *s = &b->slots[b->nslots];
      memset(s, 0, sizeof *s);
      s->hash = hash;
      s->key = copy;
      s->klen = (uint32_t)klen;
      s->order = -1;
      found = (int32_t)b->nslots;
      b->nslots++;
      STORE(&b->index[at], (uint32_t)found + 1);  // publishes the slot's fields
    }
  }
  cache_unlock(b);
  if (found < 0 && !LOAD(&b->abort))
    block_abort(b, b->nslots >= b->max_slots ? "the block's state cache is full (%zu keys)"
                                             : "out of memory in the state cache (%zu keys)",
                b->nslots);
  return found;
}

// The value of `key` before the block, as StateOverlay.peek sees it (needs the GIL). A pending
// addition in the overlay's layers is worked out by the overlay itself.
static PyObject *pre_block_value(Block *b, PyObject *key) {
  for (Py_ssize_t i = PyList_GET_SIZE(b->layers) - 1; i >= 0; i--) {
    PyObject *value = PyDict_GetItemWithError(PyList_GET_ITEM(b->layers, i), key);
    if (value) {
      if ((PyObject *)Py_TYPE(value) == AddType) return PyObject_CallMethod(b->state, "peek", "O", key);
      Py_INCREF(value);
      return value;
    }
    if (PyErr_Occurred()) return NULL;
  }
  return PyObject_CallMethodOneArg(b->base, StrGet, key);
}

// "<prefix>: <the pending exception>" into `out`, the exception cleared (GIL held).
static void take_exception(char *out, size_t cap, const char *prefix) {
  PyObject *type, *exc, *tb;
  PyErr_Fetch(&type, &exc, &tb);
  PyObject *text = exc ? PyObject_Str(exc) : NULL;
  const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
  snprintf(out, cap, "%s: %s", prefix, utf8 ? utf8 : "an exception that could not be described");
  Py_XDECREF(text);
  Py_XDECREF(type);
  Py_XDECREF(exc);
  Py_XDECREF(tb);
  PyErr_Clear();
}

static PyObject *slot_pykey(Slot *s) {
  if (!s->pykey) s->pykey = PyBytes_FromStringAndSize((const char *)s->key, s->klen);
  return s->pykey;
}

// Give `s` its pre-block value, unless it has a value already (GIL held by the caller).
static int fill_locked(Block *b, Lane *lane, Slot *s) {
  if (LOAD(&s->val)) return 0;
  PyObject *key = slot_pykey(s);
  PyObject *value = key ? pre_block_value(b, key) : NULL;
  Val *v = NULL;
  if (value == Py_None) {
    v = &b->absent;
  } else if (value) {
    Py_buffer view;
    if (PyObject_GetBuffer(value, &view, PyBUF_SIMPLE) == 0) {
      v = val_new(b, lane, view.buf, (size_t)view.len);
      PyBuffer_Release(&view);
      if (!v) PyErr_NoMemory();
    }
  }
  Py_XDECREF(value);
  if (!v) {
    // The block is abandoned; the serial run that follows meets the same failure call by call.
    if (!b->abort) {
      take_exception(b->abort_reason, sizeof b->abort_reason, "reading the state failed");
      STORE(&b->abort, 1);
    } else {
      PyErr_Clear();
    }
    return -1;
  }
  STORE(&s->val, v);
  b->misses++;
  return 0;
}

// A miss: the cache's lock (so that one thread at a time asks for the GIL), then the GIL.
static int block_fill(Block *b, Lane *lane, Slot *s) {
  cache_lock(b);
  int rc = 0;
  if (!LOAD(&s->val) && !b->abort) {
    uint64_t t0 = now_ns();
    PyGILState_STATE gil = PyGILState_Ensure();
    rc = fill_locked(b, lane, s);
    PyGILState_Release(gil);
    b->fill_ns += now_ns() - t0;
  }
  if (b->abort) rc = -1;
  cache_unlock(b);
  return rc;
}

// A consistent (value, version) of a slot, filling it on a miss.
static Val *slot_read(Block *b, Lane *lane, Slot *s, uint32_t *version) {
  for (;;) {
    uint32_t v1 = LOAD(&s->version);
    Val *p = LOAD(&s->val);
    if (!p) {
      if (block_fill(b, lane, s)) return NULL;
      continue;
    }
    if (LOAD(&s->version) == v1) {
      *version = v1;
      return p;
    }
  }
}

static wasm_trap_t *block_failed(Frame *f, const FnInfo *fn) {
  return fail_host(f, fn, "the block's state cache failed: %s", f->block->abort_reason);
}

// fetch_base in block mode: the value below the call from the block's state cache.
static wasm_trap_t *block_fetch(Frame *f, const FnInfo *fn, Entry *e) {
  Block *b = f->block;
  int32_t s = block_slot(b, e->key, e->klen, e->hash);
  if (s < 0) return block_failed(f, fn);
  uint32_t version;
  Val *v = slot_read(b, f->lane, &b->slots[s], &version);
  if (!v) return block_failed(f, fn);
  e->fetched = 1;
  e->slot = (uint32_t)s;
  e->version = version;
  if (!v->present) {
    e->base_state = BASE_ABSENT;
    return NULL;
  }
  if (buf_set(&e->base, v->data, v->len)) return fail_oom(f, fn);
  e->base_state = BASE_PRESENT;
  return NULL;
}

// ---- one call -----------------------------------------------------------------------------------

static void callout_clear(CallOut *o) {  // no Python: pymsg is never set in block mode
  free(o->c.text);
  memset(o, 0, sizeof *o);
}

static int lane_store(Lane *lane, wasm_engine_t *engine) {
  if (lane->store && lane->instances < lane->per_store) return 0;
  if (lane->store) W.wasmtime_store_delete(lane->store);
  lane->store = W.wasmtime_store_new(engine, NULL, NULL);
  if (!lane->store) return -1;
  lane->ctx = W.wasmtime_store_context(lane->store);
  lane->instances = 0;
  return 0;
}

// Copy the frame's outputs and accesses into `o`, in the lane's arena (the frame is reused).
static int collect(Block *b, Frame *f, CallOut *o) {
  Arena *a = &f->lane->arena;
  if (f->ret.len && !(o->ret.p = arena_copy_bytes(a, f->ret.p, f->ret.len))) return -1;
  o->ret.len = f->ret.len;
  if (f->nevents) {
    if (!(o->events = arena_alloc(a, f->nevents * sizeof *o->events))) return -1;
    for (size_t i = 0; i < f->nevents; i++) {
      const Buf *d = &f->events[i].data;
      o->events[i].data = (Buf){arena_copy_bytes(a, d->p, d->len), d->len, 0};
      if (!o->events[i].data.p) return -1;
    }
    o->nevents = (uint32_t)f->nevents;
  }
  if (f->nlogs) {
    if (!(o->logs = arena_alloc(a, f->nlogs * sizeof *o->logs))) return -1;
    for (size_t i = 0; i < f->nlogs; i++) {
      const LogRec *lg = &f->logs[i];
      o->logs[i].ntopics = lg->ntopics;
      memcpy(o->logs[i].topics, lg->topics, 32 * lg->ntopics);
      o->logs[i].data = (Buf){arena_copy_bytes(a, lg->data.p, lg->data.len), lg->data.len, 0};
      if (!o->logs[i].data.p) return -1;
    }
    o->nlogs = (uint32_t)f->nlogs;
  }
  size_t nreads = 0, nwrites = 0, nchecks = 0;
  for (size_t i = 0; i < f->nentries; i++) {
    Entry *e = &f->entries[i];
    nreads += e->read;
    nwrites += e->written;
    nchecks += e->fetched;
  }
  o->reads = arena_alloc(a, (nreads + nwrites) * sizeof *o->reads + 1);
  o->checks = arena_alloc(a, nchecks * sizeof *o->checks + 1);
  if (!o->reads || !o->checks) return -1;
  o->writes = o->reads + nreads;
  for (size_t i = 0; i < f->nentries; i++) {
    Entry *e = &f->entries[i];
    if (!e->read && !e->written) continue;
    int32_t s = e->fetched ? (int32_t)e->slot : block_slot(b, e->key, e->klen, e->hash);
    if (s < 0) return -1;
    e->slot = (uint32_t)s;
    if (e->read) o->reads[o->nreads++] = (uint32_t)s;
    if (e->written) o->writes[o->nwrites++] = (uint32_t)s;
    if (e->fetched) o->checks[o->nchecks++] = (Check){(uint32_t)s, e->version};
  }
  if (o->c.kind != OUT_OK || !f->nwrite_order) return 0;
  if (!(o->wops = arena_alloc(a, f->nwrite_order * sizeof *o->wops))) return -1;
  for (size_t i = 0; i < f->nwrite_order; i++) {
    Entry *e = &f->entries[f->write_order[i]];
    WriteOp *w = &o->wops[o->nwops++];
    w->slot = e->slot;
    w->top = e->top;
    w->val = NULL;
    if (e->top == TOP_ADD) memcpy(w->delta, e->delta, 32);
    else if (e->top == TOP_SET && !(w->val = val_new(b, f->lane, e->topval.p, e->topval.len)))
      return -1;
  }
  return 0;
}

// Execute call i on `lane`, into b->outs[i].
static void exec_call(Block *b, Lane *lane, size_t i) {
  BlockCall *call = &b->calls[i];
  CallOut *o = &b->outs[i];
  Frame *f = &lane->frame;
  callout_clear(o);
  __atomic_fetch_add(&b->executions, 1, __ATOMIC_RELAXED);
  if (lane_store(lane, b->rt->engine)) {
    block_abort(b, "wasmtime could not create a store");
    o->c.kind = OUT_NOMEM;
    return;
  }
  frame_reset(f);
  f->ctx = lane->ctx;
  f->block = b;
  f->lane = lane;
  f->state = NULL;
  f->input = call->input;
  f->input_len = call->input_len;
  memcpy(f->caller, call->caller, ADDRESS_SIZE);
  memcpy(f->address, call->address, ADDRESS_SIZE);
  f->block_number = call->block_number;
  f->timestamp = call->timestamp;
  f->gas_limit = call->gas_limit;
  lane->instances++;
  wasmtime_val_raw_t buf[1] = {{0}};
  wasmtime_error_t *err;
  wasm_trap_t *trap;
  uint64_t fuel_left;
  Frame *outer = cur;
  cur = f;
  run_call(lane->ctx, f, call->module->pre, "call", 4, buf, 1, call->has_memory,
           call->has_initialize, b->rt->deadline_ticks, &err, &trap, &fuel_left);
  cur = outer;
  capture(b->rt, f, err, trap, fuel_left, buf, call->result_kind, &o->c);
  if (o->c.kind == OUT_NOMEM || collect(b, f, o)) block_abort(b, "out of memory");
}

// ---- validation and commit (under the commit lock) -----------------------------------------------

static bool still_valid(Block *b, const CallOut *o) {
  for (size_t j = 0; j < o->nchecks; j++)
    if (LOAD(&b->slots[o->checks[j].slot].version) != o->checks[j].version) return false;
  return true;
}

static int commit_call(Block *b, Lane *lane, const CallOut *o) {
  if (o->c.kind != OUT_OK) return 0;
  for (size_t j = 0; j < o->nwops; j++) {
    const WriteOp *w = &o->wops[j];
    Slot *s = &b->slots[w->slot];
    Val *nv;
    if (w->top == TOP_SET) {
      nv = w->val;
    } else if (w->top == TOP_DEL) {
      nv = &b->absent;
    } else {
      Val *old = LOAD(&s->val);
      if (!old) {
        if (block_fill(b, lane, s)) return -1;
        old = LOAD(&s->val);
      }
      uint8_t v[32];
      low256(v, old->present ? old->data : NULL, old->present ? old->len : 0);
      add256(v, w->delta);
      if (!(nv = val_new(b, lane, v, 32))) return -1;
    }
    STORE(&s->val, nv);
    STORE(&s->version, s->version + 1);
    if (s->order < 0) {
      s->order = (int32_t)b->norder;
      b->order[b->norder++] = w->slot;
    }
    // The net change to the layer, as StateOverlay._merge composes one call's after another's.
    if (w->top == TOP_SET) {
      s->net = NET_SET;
      s->netval = nv;
    } else if (w->top == TOP_DEL) {
      s->net = NET_DEL;
    } else if (s->net == NET_NONE || s->net == NET_ADD) {
      if (s->net == NET_NONE) memcpy(s->netdelta, w->delta, 32);
      else add256(s->netdelta, w->delta);
      s->net = NET_ADD;
      s->added = 1;
    } else {
      s->net = NET_SET;  // over a value or a deletion an addition is a value
      s->netval = nv;
    }
  }
  return 0;
}

static void claim_and_run(Block *b, Lane *lane, size_t i) {
  exec_call(b, lane, i);
  STORE(&b->status[i], CALL_DONE);
}

// Commit what can be committed, in order; a lock holder never waits for a call nobody runs.
static void try_commit(Block *b, Lane *lane) {
  for (;;) {
    if (__atomic_exchange_n(&b->commit_lock, 1, __ATOMIC_ACQUIRE)) return;
    while (!LOAD(&b->abort)) {
      size_t i = b->committed;
      if (i >= b->n) break;
      uint8_t st = LOAD(&b->status[i]);
      if (st == CALL_NEW) {
        uint8_t expected = CALL_NEW;
        if (!__atomic_compare_exchange_n(&b->status[i], &expected, CALL_RUNNING, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
          break;  // another thread just took it
        claim_and_run(b, lane, i);  // under the lock: it sees exactly the serial state
      } else if (st == CALL_RUNNING) {
        break;
      } else {
        b->checked++;
        if (!still_valid(b, &b->outs[i])) {
          b->reexecutions++;
          exec_call(b, lane, i);
        }
        // Past the bound on re-executions, or when speculation mostly fails (a hot spot:
        // every call conflicts), the other threads stop and this one runs the rest in order.
        if (!LOAD(&b->serial) &&
            (b->reexecutions > b->max_reexecutions ||
             (b->checked >= HOT_MIN_CHECKED && (double)b->reexecutions > b->hot_share * (double)b->checked))) {
          b->serial_from = i + 1;
          STORE(&b->serial, 1);
        }
      }
      if (LOAD(&b->abort) || commit_call(b, lane, &b->outs[i])) break;
      STORE(&b->committed, i + 1);
    }
    __atomic_store_n(&b->commit_lock, 0, __ATOMIC_RELEASE);
    // A call may have finished after the loop looked and before the unlock: look again.
    size_t c = LOAD(&b->committed);
    if (LOAD(&b->abort) || c >= b->n || LOAD(&b->status[c]) != CALL_DONE) return;
  }
}

typedef struct {
  Block *b;
  Lane *lane;
} Job;

static PyObject *slot_set(Block *b, const uint32_t *ids, size_t n, int writes);

// The results of calls [b->built, upto), committed and so final (GIL held).
static int build_results(Block *b, size_t upto) {
  for (size_t i = b->built; i < upto; i++) {
    CallOut *o = &b->outs[i];
    BlockCall *c = &b->calls[i];
    PyObject *reads = slot_set(b, o->reads, o->nreads, 0);
    PyObject *writes = reads ? slot_set(b, o->writes, o->nwrites, 1) : NULL;
    PyObject *r = captured_result(b->rt, &o->c, c->gas_limit, &o->ret, o->events, o->nevents,
                                  o->logs, o->nlogs, c->address_obj, c->result_kind, reads, writes);
    Py_XDECREF(reads);
    Py_XDECREF(writes);
    if (!r) return -1;
    PyList_SET_ITEM(b->results, (Py_ssize_t)i, r);
    b->built = i + 1;
  }
  return 0;
}

// On the caller's thread, during the block: once BUILD_BATCH calls are committed and not built,
// build their results under the GIL while the other threads go on executing, so that building
// is not all left for after the block. A failure abandons the block (the GIL is released before
// the cache's lock is taken: fills take the lock, then the GIL).
static void build_pending(Block *b) {
  size_t upto = LOAD(&b->committed);
  if (upto - b->built < BUILD_BATCH || LOAD(&b->abort)) return;
  char reason[sizeof b->abort_reason];
  PyGILState_STATE gil = PyGILState_Ensure();
  int failed = build_results(b, upto);
  if (failed) take_exception(reason, sizeof reason, "building the results failed");
  PyGILState_Release(gil);
  if (failed) block_abort(b, "%s", reason);
}

// `main`: the caller's thread, which stays until the block is committed; the others leave once
// the block runs serially (whoever holds the commit lock then runs every call left).
static void occ_loop(Block *b, Lane *lane, bool main) {
  for (;;) {
    if (LOAD(&b->abort) || LOAD(&b->serial)) break;
    size_t i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
    if (i >= b->n) break;
    uint8_t expected = CALL_NEW;
    if (!__atomic_compare_exchange_n(&b->status[i], &expected, CALL_RUNNING, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      continue;  // the committer ran it itself
    claim_and_run(b, lane, i);
    try_commit(b, lane);
    if (main && b->threads > 1) build_pending(b);
  }
  for (int spins = 0; !LOAD(&b->abort) && LOAD(&b->committed) < b->n; spins++) {
    if (!main && LOAD(&b->serial)) {
      try_commit(b, lane);  // a result this thread finished may be next: commit it first
      break;
    }
    try_commit(b, lane);
    if (main && b->threads > 1) build_pending(b);
    if (spins > BLOCK_SPIN) sched_yield();
  }
}

static void *lane_thread(void *p) {
  Job *j = p;
  // A thread state of its own, for the fills; the GIL is released again at once.
  PyGILState_STATE gil = PyGILState_Ensure();
  PyThreadState *saved = PyEval_SaveThread();
  occ_loop(j->b, j->lane, false);
  PyEval_RestoreThread(saved);
  PyGILState_Release(gil);
  return NULL;
}

// ---- the Python entry point -----------------------------------------------------------------------

static void lanes_free(Runtime *rt) {
  for (int i = 0; i < rt->nlanes; i++) {
    Lane *lane = &rt->lanes[i];
    frame_free(&lane->frame);
    if (lane->store) W.wasmtime_store_delete(lane->store);
    arena_reset(&lane->arena, true);
  }
  free(rt->lanes);
  rt->lanes = NULL;
  rt->nlanes = 0;
}

static int lanes_ensure(Runtime *rt, int n) {
  if (rt->nlanes >= n) return 0;
  Lane *lanes = realloc(rt->lanes, (size_t)n * sizeof *lanes);
  if (!lanes) return -1;
  memset(lanes + rt->nlanes, 0, (size_t)(n - rt->nlanes) * sizeof *lanes);
  rt->lanes = lanes;
  rt->nlanes = n;
  return 0;
}

static size_t next_pow2(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

static void block_free(Block *b, int nlanes_used) {
  for (size_t i = 0; i < b->n; i++) {
    free(b->outs[i].c.text);
    Py_XDECREF(b->calls[i].item);
    Py_XDECREF(b->calls[i].address_obj);
  }
  for (size_t i = 0; i < b->nslots; i++) Py_XDECREF(b->slots[i].pykey);
  for (int k = 0; k < nlanes_used; k++) {
    Lane *lane = &b->rt->lanes[k];
    arena_reset(&lane->arena, false);
    // Block mode leaves no Python references in a lane's frame; reset it for the next block.
    lane->frame.block = NULL;
    // The engine's pool of instance slots is shared by every store on it (both backends, and
    // any backend with the same settings): a lane's instances go back to it after each block.
    if (lane->store) {
      W.wasmtime_store_delete(lane->store);
      lane->store = NULL;
      lane->ctx = NULL;
    }
  }
  for (size_t i = 0; i < b->narenas; i++) free(b->arenas[i]);
  free(b->arenas);
  free(b->index);
  free(b->slots);
  free(b->order);
  free(b->calls);
  free(b->outs);
  free(b->status);
  Py_XDECREF(b->layers);
  Py_XDECREF(b->base);
  Py_XDECREF(b->results);
}

// A frozenset of the slots' keys; marks them for the overlay's read (or write) set.
static PyObject *slot_set(Block *b, const uint32_t *ids, size_t n, int writes) {
  PyObject *set = PyFrozenSet_New(NULL);
  for (size_t i = 0; set && i < n; i++) {
    Slot *s = &b->slots[ids[i]];
    PyObject *key = slot_pykey(s);
    if (!key || PySet_Add(set, key)) Py_CLEAR(set);
    if (writes) s->in_writes = 1;
    else s->in_reads = 1;
  }
  return untracked(set);
}

// The block's net changes into the overlay's innermost layer (overlay_apply's merge rules), in
// the order of their first write; then every key the calls read or wrote joins its sets.
static int block_apply(Block *b) {
  PyObject *writes = PyObject_GetAttr(b->state, StrWrites);
  PyObject *reads = writes ? PyObject_GetAttr(b->state, StrReads) : NULL;
  int rc = -1, deltas = 0;
  if (!reads) goto out;
  if (!PySet_Check(writes) || !PySet_Check(reads)) {
    PyErr_SetString(PyExc_TypeError, "state overlay layout changed: cannot apply natively");
    goto out;
  }
  PyObject *layer = PyList_GET_ITEM(b->layers, PyList_GET_SIZE(b->layers) - 1);
  for (size_t k = 0; k < b->norder; k++) {
    Slot *s = &b->slots[b->order[k]];
    PyObject *key = slot_pykey(s), *value = NULL;
    if (!key) goto out;
    if (s->net == NET_SET) {
      value = PyBytes_FromStringAndSize((const char *)s->netval->data, (Py_ssize_t)s->netval->len);
    } else if (s->net == NET_DEL) {
      Py_INCREF(Py_None);
      value = Py_None;
    }
    PyObject *current = PyDict_GetItemWithError(layer, key);
    if (!current && PyErr_Occurred()) goto out;
    // Applying the calls one by one leaves a pending addition (and the overlay's flag) when an
    // addition met no value in the layer, even if a later write replaced it.
    if (s->added && (!current || (PyObject *)Py_TYPE(current) == AddType)) deltas = 1;
    if (s->net == NET_ADD) {
      uint8_t v[32];
      if (!current) {
        value = new_addition(s->netdelta);
      } else if ((PyObject *)Py_TYPE(current) == AddType) {
        PyObject *amount = PyObject_GetAttr(current, StrAmount);
        if (!amount) goto out;
        int bad = _PyLong_AsByteArray((PyLongObject *)amount, v, 32, 1, 0);
        Py_DECREF(amount);
        if (bad) goto out;
        add256(v, s->netdelta);
        value = new_addition(v);
      } else if (current == Py_None || PyBytes_Check(current)) {
        if (current == Py_None) low256(v, NULL, 0);
        else low256(v, (const uint8_t *)PyBytes_AS_STRING(current), (size_t)PyBytes_GET_SIZE(current));
        add256(v, s->netdelta);
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
  for (size_t i = 0; i < b->nslots; i++) {
    Slot *s = &b->slots[i];
    if ((s->in_reads && PySet_Add(reads, s->pykey)) || (s->in_writes && PySet_Add(writes, s->pykey)))
      goto out;
  }
  if (deltas && PyObject_SetAttr(b->state, StrDeltas, Py_True)) goto out;
  rc = 0;
out:
  Py_XDECREF(writes);
  Py_XDECREF(reads);
  return rc;
}

static PyObject *block_stats(Block *b, uint64_t wall_ns) {
  return Py_BuildValue("{s:n,s:n,s:n,s:d,s:n,s:n,s:d,s:d,s:d,s:n}", "executions",
                       (Py_ssize_t)b->executions, "reexecutions", (Py_ssize_t)b->reexecutions,
                       "misses", (Py_ssize_t)b->misses, "fill_seconds", (double)b->fill_ns / 1e9,
                       "serial_from", (Py_ssize_t)(b->serial_from ? b->serial_from : b->n), "keys",
                       (Py_ssize_t)b->nslots, "seconds", (double)wall_ns / 1e9, "setup_seconds",
                       (double)b->setup_ns / 1e9, "build_seconds", (double)b->build_ns / 1e9,
                       "built_during", (Py_ssize_t)b->built_during);
}

// execute_block(calls, state, threads, max_reexecution_share, prefetch)
//   -> (results | None, abandoned reason | None, stats)
//
// `calls`: a list of (module, context, input, result kind, has_memory, has_initialize), each
// a transaction ("call", no arguments) of a module that runs natively; `state` a plain
// StateOverlay; `prefetch` keys read into the cache before the block. On success the results
// are ExecutionResults in block order and the overlay holds the block's changes; when the block
// is abandoned the overlay is untouched and the caller runs it another way.
static PyObject *runtime_execute_block(Runtime *rt, PyObject *args) {
  PyObject *calls, *state, *prefetch;
  int threads;
  double share;
  if (!PyArg_ParseTuple(args, "O!OidO!", &PyList_Type, &calls, &state, &threads, &share,
                        &PyList_Type, &prefetch))
    return NULL;
  if (!rt->linker) {
    PyErr_SetString(PyExc_RuntimeError, "runtime is closed");
    return NULL;
  }
  if (rt->busy) {
    PyErr_SetString(PyExc_RuntimeError, "execute_block: a call is running on this runtime");
    return NULL;
  }
  if (threads < 1) threads = 1;
  if (threads > BLOCK_MAX_THREADS) threads = BLOCK_MAX_THREADS;
  Block *b = calloc(1, sizeof *b);
  if (!b) return PyErr_NoMemory();
  b->rt = rt;
  b->state = state;
  b->absent.present = 0;
  uint64_t t_setup = now_ns();
  b->n = (size_t)PyList_GET_SIZE(calls);
  if (share < 0) share = 0;
  b->hot_share = share;
  b->max_reexecutions = (size_t)(share * (double)b->n);
  size_t n = b->n;
  PyObject *result = NULL;
  int used_lanes = 0;
  b->layers = PyObject_GetAttr(state, StrLayers);
  b->base = b->layers ? PyObject_GetAttr(state, StrBase) : NULL;
  if (!b->base) goto out;
  if (!PyList_Check(b->layers) || PyList_GET_SIZE(b->layers) == 0) {
    PyErr_SetString(PyExc_TypeError, "execute_block needs a StateOverlay");
    goto out;
  }
  b->index_cap = next_pow2(16 * (n + (size_t)PyList_GET_SIZE(prefetch)) + 1024);
  b->max_slots = b->index_cap / 2;
  b->index = calloc(b->index_cap, sizeof *b->index);
  b->slots = malloc(b->max_slots * sizeof *b->slots);
  b->order = malloc(b->max_slots * sizeof *b->order);
  b->calls = calloc(n ? n : 1, sizeof *b->calls);
  b->outs = calloc(n ? n : 1, sizeof *b->outs);
  b->status = calloc(n ? n : 1, 1);
  if (!b->index || !b->slots || !b->order || !b->calls || !b->outs || !b->status) {
    PyErr_NoMemory();
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    PyObject *item = PyList_GET_ITEM(calls, (Py_ssize_t)i);
    BlockCall *c = &b->calls[i];
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 6 ||
        Py_TYPE(PyTuple_GET_ITEM(item, 0)) != &NativeModuleType ||
        !PyBytes_Check(PyTuple_GET_ITEM(item, 2))) {
      PyErr_Format(PyExc_TypeError, "execute_block: call %zd is not (module, context, input, ...)",
                   (Py_ssize_t)i);
      goto out;
    }
    Py_INCREF(item);
    c->item = item;
    c->module = (NativeModule *)PyTuple_GET_ITEM(item, 0);
    Frame tmp = {0};
    if (frame_context(&tmp, PyTuple_GET_ITEM(item, 1), &c->address_obj)) goto out;
    memcpy(c->caller, tmp.caller, ADDRESS_SIZE);
    memcpy(c->address, tmp.address, ADDRESS_SIZE);
    c->block_number = tmp.block_number;
    c->timestamp = tmp.timestamp;
    c->gas_limit = tmp.gas_limit;
    c->input = (const uint8_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(item, 2));
    c->input_len = (size_t)PyBytes_GET_SIZE(PyTuple_GET_ITEM(item, 2));
    c->result_kind = PyLong_AsLong(PyTuple_GET_ITEM(item, 3));
    int mem = PyObject_IsTrue(PyTuple_GET_ITEM(item, 4));
    int init = PyObject_IsTrue(PyTuple_GET_ITEM(item, 5));
    if (PyErr_Occurred() || mem < 0 || init < 0) goto out;
    c->has_memory = mem;
    c->has_initialize = init;
  }
  if (threads > 1 && n < 2 * (size_t)threads) threads = 1;
  b->threads = threads;
  b->results = PyList_New((Py_ssize_t)n);
  if (!b->results) goto out;
  if (lanes_ensure(rt, threads)) {
    PyErr_NoMemory();
    goto out;
  }
  used_lanes = threads;
  // The engine's pool of instance slots is shared with both backends' stores: free the
  // runtime's own idle store's instances, and keep this block's stores small.
  if (rt->instances && runtime_new_store(rt)) goto out;
  for (int k = 0; k < threads; k++) {
    uint32_t per = (uint32_t)(LANE_INSTANCES / threads);
    rt->lanes[k].per_store = per < 6 ? 6 : per;
  }
  // Prefetch, with the GIL and before any thread runs.
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(prefetch); i++) {
    PyObject *key = PyList_GET_ITEM(prefetch, i);
    if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) > FULL_KEY_MAX) continue;
    const uint8_t *k = (const uint8_t *)PyBytes_AS_STRING(key);
    size_t kl = (size_t)PyBytes_GET_SIZE(key);
    int32_t s = block_slot(b, k, kl, key_hash(k, kl));
    if (s < 0 || fill_locked(b, &rt->lanes[0], &b->slots[s])) break;
  }
  size_t prefetched = b->misses;

  uint64_t t0 = now_ns();
  b->setup_ns = t0 - t_setup;
  rt->busy++;
  Job jobs[BLOCK_MAX_THREADS];
  pthread_t tids[BLOCK_MAX_THREADS];
  bool started[BLOCK_MAX_THREADS] = {false};
  PyThreadState *saved = PyEval_SaveThread();
  if (!LOAD(&b->abort)) {
    for (int k = 1; k < threads; k++) {
      jobs[k] = (Job){b, &rt->lanes[k]};
      started[k] = pthread_create(&tids[k], NULL, lane_thread, &jobs[k]) == 0;
    }
    occ_loop(b, &rt->lanes[0], true);
    for (int k = 1; k < threads; k++)
      if (started[k]) pthread_join(tids[k], NULL);
  }
  PyEval_RestoreThread(saved);
  rt->busy--;
  uint64_t wall = now_ns() - t0;
  b->misses -= prefetched;

  if (LOAD(&b->abort)) {
    PyObject *stats = block_stats(b, wall);
    if (stats) result = Py_BuildValue("(OsN)", Py_None, b->abort_reason, stats);
    goto out;
  }
  uint64_t t_build = now_ns();
  b->built_during = b->built;
  if (build_results(b, n) || block_apply(b)) goto out;
  b->build_ns = now_ns() - t_build;
  PyObject *stats = block_stats(b, wall);
  if (!stats) goto out;
  result = Py_BuildValue("(NON)", b->results, Py_None, stats);
  b->results = NULL;  // the tuple took it
out:
  block_free(b, used_lanes);
  free(b);
  return result;
}
