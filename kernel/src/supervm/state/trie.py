"""Ethereum's hexary Merkle Patricia trie, updated in batches and hashed incrementally.

The rules are Ethereum's (Yellow Paper, appendix D): keys are read as nibbles, leaves and
extensions carry a hex-prefix encoded path, branches have sixteen children and a value, a node
whose RLP is shorter than 32 bytes is embedded in its parent instead of being referenced by
hash, and the root hash is the keccak of the root node's RLP (``EMPTY_ROOT`` for no entries).

Why this and not the ``trie`` package: that one re-encodes and re-hashes the whole path on every
``set`` (about 260-290 µs per update at 10-20k entries), which makes a 30,000-key block cost
seconds. Here decoded nodes stay in memory with their encodings' references cached; ``update``
applies a whole sorted batch in one walk that only marks the touched paths dirty, and
``root_hash`` encodes and hashes each dirty node exactly once, bottom up.

Representation, chosen for CPython's speed rather than elegance:

- a path is a ``str`` of lowercase hex digits, one per nibble (``key.hex()``), so slicing,
  prefix tests and hex-prefix encoding (``bytes.fromhex(flag + path)``) all run in C;
- a node's ``ref`` is what its parent embeds: the RLP itself when shorter than 32 bytes, else
  ``0xa0 || keccak(rlp)``; ``None`` means dirty. A dirty node's ancestors are all dirty;
- a branch keeps ``kids`` (nodes) beside ``refs`` (the 17 encoded items). A child that is not
  loaded yet is ``None`` in ``kids`` with its hash reference in ``refs``, so a branch encodes as
  ``b"".join(refs)`` and a child is fetched from storage only when a walk needs it;
- leaf values and the branch value are kept RLP-encoded (the item as it appears in the node),
  because they are encoded once per change but hashed into every ancestor.

Persistence is the caller's: nodes are content addressed, ``commit`` hands back the nodes hashed
since the last commit (hash -> RLP) for the caller's atomic block batch, and a trie re-opens from
a root hash and a ``get_node(hash) -> bytes | None`` callable, loading nodes as walks reach them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeAlias

from supervm.crypto import Keccak256, keccak256, keccak256_hasher

__all__ = [
    "EMPTY_ROOT",
    "InvalidNodeError",
    "InvalidProofError",
    "MissingNodeError",
    "NodeLookup",
    "RlpItem",
    "SecureTrie",
    "Trie",
    "keccak256",
    "rlp_encode",
    "verify_proof",
]

NodeLookup: TypeAlias = Callable[[bytes], bytes | None]
RlpItem: TypeAlias = bytes | Sequence["RlpItem"]
Keccak: TypeAlias = Keccak256


# --- keccak -----------------------------------------------------------------------------------

#: A keccak-256 function for one thread's use (the trie's hot paths take one per operation).
_new_keccak = keccak256_hasher


#: keccak(rlp(b"")): the root of a trie with no entries.
EMPTY_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")


# --- RLP ----------------------------------------------------------------------------------------

_EMPTY = b"\x80"  # rlp(b""): an empty child or value slot
_HASHREF = b"\xa0"  # the RLP header of a 32-byte string: a child referenced by hash
_STR_HDR = [bytes((0x80 + n,)) for n in range(56)]
_LIST_HDR_N = 1024  # covers every branch (16 refs of <= 33 bytes) and most leaves
_LIST_HDR = [
    bytes((0xC0 + n,))
    if n < 56
    else bytes((0xF8, n))
    if n < 256
    else bytes((0xF9, n >> 8, n & 255))
    for n in range(_LIST_HDR_N)
]


def _long_header(n: int, base: int) -> bytes:
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((base + len(length),)) + length


def _enc_str(b: bytes) -> bytes:
    n = len(b)
    if n == 1 and b[0] < 0x80:
        return b
    if n < 56:
        return _STR_HDR[n] + b
    return _long_header(n, 0xB7) + b


def _list_hdr(n: int) -> bytes:
    return _LIST_HDR[n] if n < _LIST_HDR_N else _long_header(n, 0xF7)


def rlp_encode(item: RlpItem) -> bytes:
    """RLP of a byte string or a (nested) list of them; byte-for-byte ``rlp.encode``'s output."""
    if isinstance(item, bytes | bytearray | memoryview):
        return _enc_str(bytes(item))
    payload = b"".join([rlp_encode(x) for x in item])
    return _list_hdr(len(payload)) + payload


class InvalidNodeError(ValueError):
    """Bytes that are not a trie node's RLP."""


def _item(data: bytes, pos: int, end: int) -> tuple[bool, int, int]:
    """The RLP item at ``pos``: (is a list, payload start, payload end), bounds checked."""
    if pos >= end:
        raise InvalidNodeError("truncated RLP")
    b = data[pos]
    if b < 0x80:
        return False, pos, pos + 1
    if b < 0xB8:
        start, stop, is_list = pos + 1, pos + 1 + b - 0x80, False
    elif b < 0xC0:
        ll = b - 0xB7
        start = pos + 1 + ll
        stop, is_list = start + int.from_bytes(data[pos + 1 : start], "big"), False
    elif b < 0xF8:
        start, stop, is_list = pos + 1, pos + 1 + b - 0xC0, True
    else:
        ll = b - 0xF7
        start = pos + 1 + ll
        stop, is_list = start + int.from_bytes(data[pos + 1 : start], "big"), True
    if stop > end:
        raise InvalidNodeError("RLP item runs past its container")
    return is_list, start, stop


def _list_items(data: bytes, start: int, stop: int) -> list[tuple[bool, int, int, int]]:
    """The items of the list payload ``data[start:stop]``: (is list, item start, payload
    start, payload end); an item's raw encoding is ``data[item start:payload end]``."""
    items = []
    pos = start
    while pos < stop:
        is_list, ps, pe = _item(data, pos, stop)
        items.append((is_list, pos, ps, pe))
        pos = pe
    return items


# --- nodes --------------------------------------------------------------------------------------


class _Leaf:
    __slots__ = ("path", "ref", "venc")

    def __init__(self, path: str, venc: bytes) -> None:
        self.path = path
        self.venc = venc  # the value's RLP item
        self.ref: bytes | None = None


class _Ext:
    __slots__ = ("child", "path", "ref")

    def __init__(self, path: str, child: _Node | bytes) -> None:
        self.path = path
        self.child = child  # bytes: the child's hash reference, not loaded yet
        self.ref: bytes | None = None


class _Branch:
    __slots__ = ("kids", "ref", "refs")

    def __init__(self) -> None:
        self.kids: list[_Node | None] = [None] * 16
        # refs[i] is current when kids[i] is None (empty, or not loaded: a hash ref) or clean
        # (so hashing visits only dirty children); refs[16] is the value item, always current.
        self.refs: list[bytes] = [_EMPTY] * 17
        self.ref: bytes | None = None


_Node: TypeAlias = _Leaf | _Ext | _Branch

_HEX = "0123456789abcdef"
_IDX = {c: i for i, c in enumerate(_HEX)}
# A string that sorts after every path that has ``prefix + c`` as a prefix: ``prefix + _NEXT[c]``.
_NEXT = {c: chr(ord(c) + 1) for c in _HEX}


def _hp_hex(n: int, leaf: bool) -> str:
    """Hex digits to put before an ``n``-nibble path so that ``bytes.fromhex`` of the result is
    the RLP item of its hex-prefix encoding (header included)."""
    flag = (2 if leaf else 0) + (n & 1)
    body_len = n // 2 + 1
    head = f"{flag:x}" if n & 1 else f"{flag:x}0"
    if body_len == 1:
        return head  # one byte below 0x80: RLP leaves it bare
    if body_len < 56:
        return f"{0x80 + body_len:02x}" + head
    return _long_header(body_len, 0xB7).hex() + head


_HP_N = 112  # paths up to 55-byte keys, i.e. every secure-trie path, come from a table
_HP_LEAF = [_hp_hex(n, True) for n in range(_HP_N)]
_HP_EXT = [_hp_hex(n, False) for n in range(_HP_N)]


def _hp_leaf(path: str) -> bytes:
    n = len(path)
    return bytes.fromhex((_HP_LEAF[n] if n < _HP_N else _hp_hex(n, True)) + path)


def _hp_ext(path: str) -> bytes:
    n = len(path)
    return bytes.fromhex((_HP_EXT[n] if n < _HP_N else _hp_hex(n, False)) + path)


def _encode(node: _Node) -> bytes:
    """RLP of a node whose children are all clean (their refs current)."""
    cls = node.__class__
    if cls is _Branch:
        assert isinstance(node, _Branch)
        refs = node.refs
        kids = node.kids
        for i in range(16):
            k = kids[i]
            if k is not None:
                assert k.ref is not None
                refs[i] = k.ref
        payload = b"".join(refs)
    elif cls is _Leaf:
        assert isinstance(node, _Leaf)
        payload = _hp_leaf(node.path) + node.venc
    else:
        assert isinstance(node, _Ext)
        child = node.child
        r = child if isinstance(child, bytes) else child.ref
        assert r is not None
        payload = _hp_ext(node.path) + r
    return _list_hdr(len(payload)) + payload


def _hash_dirty(node: _Node, keccak: Keccak, pending: dict[bytes, bytes]) -> bytes:
    """Encode and hash a dirty node after its dirty descendants; returns and caches its ref.

    This is the hot loop of ``root_hash``, so encodings are inlined rather than shared with
    ``_encode``, and a branch's dirty leaves (most dirty nodes) are hashed without a call.
    """
    if node.__class__ is _Branch:
        refs = node.refs
        i = -1
        for k in node.kids:
            i += 1
            if k is None or k.ref is not None:
                continue  # refs[i] is current
            if k.__class__ is _Leaf:
                path = k.path
                n = len(path)
                payload = (
                    bytes.fromhex((_HP_LEAF[n] if n < _HP_N else _hp_hex(n, True)) + path) + k.venc
                )
                n = len(payload)
                enc = (_LIST_HDR[n] if n < _LIST_HDR_N else _long_header(n, 0xF7)) + payload
                if len(enc) < 32:
                    k.ref = refs[i] = enc
                else:
                    h = keccak(enc)
                    pending[h] = enc
                    k.ref = refs[i] = _HASHREF + h
            else:
                refs[i] = _hash_dirty(k, keccak, pending)
        payload = b"".join(refs)
    elif node.__class__ is _Leaf:
        path = node.path
        n = len(path)
        payload = bytes.fromhex((_HP_LEAF[n] if n < _HP_N else _hp_hex(n, True)) + path) + node.venc
    else:
        assert isinstance(node, _Ext)
        path = node.path
        child = node.child
        if isinstance(child, bytes):
            r = child
        elif child.ref is not None:
            r = child.ref
        else:
            r = _hash_dirty(child, keccak, pending)
        n = len(path)
        payload = bytes.fromhex((_HP_EXT[n] if n < _HP_N else _hp_hex(n, False)) + path) + r
    n = len(payload)
    enc = (_LIST_HDR[n] if n < _LIST_HDR_N else _long_header(n, 0xF7)) + payload
    if len(enc) < 32:
        node.ref = enc
        return enc
    h = keccak(enc)
    pending[h] = enc
    ref = _HASHREF + h
    node.ref = ref
    return ref


def _decode_node(data: bytes, start: int, stop: int, ref: bytes) -> _Node:
    """The node whose RLP is ``data[start:stop]``; inline children are decoded with it."""
    is_list, ps, pe = _item(data, start, stop)
    if not is_list or pe != stop:
        raise InvalidNodeError("a trie node is one RLP list")
    # A short node has two items; anything longer is read as a branch, with a scan that
    # expects its usual shape (each child 0x80 or 0xa0 + 32 bytes) rather than the generic
    # item parser, because loading a cold state is mostly decoding branches.
    pl, pps, ppe = _item(data, ps, pe)
    cl, cps, cpe = _item(data, ppe, pe)
    node: _Node
    if cpe != pe:
        node = _Branch()
        refs = node.refs
        kids = node.kids
        pos = ps
        for i in range(16):
            if pos >= pe:
                raise InvalidNodeError("a branch has 17 items")
            b = data[pos]
            if b == 0x80:
                pos += 1
            elif b == 0xA0:
                end = pos + 33
                refs[i] = data[pos:end]
                pos = end
            elif b >= 0xC0:
                _, _, end = _item(data, pos, pe)
                refs[i] = data[pos:end]
                kids[i] = _decode_node(data, pos, end, refs[i])
                pos = end
            else:
                raise InvalidNodeError("a branch child is empty, a hash or an inline node")
        is_list, _, end = _item(data, pos, pe)
        if is_list or end != pe:
            raise InvalidNodeError("a branch has 17 items, the last a byte string")
        if data[pos] != 0x80:
            refs[16] = data[pos:end]
        node.ref = ref
        return node
    cs = ppe
    if pl or ppe == pps:
        raise InvalidNodeError("a short node's path is a non-empty byte string")
    nib = data[pps:ppe].hex()
    flag = nib[0]
    if flag not in "0123" or (flag in "02" and nib[1] != "0"):
        raise InvalidNodeError("bad hex-prefix flag")
    path = nib[1:] if flag in "13" else nib[2:]
    if flag in "23":
        if cl:
            raise InvalidNodeError("a leaf value is a byte string")
        node = _Leaf(path, data[cs:cpe])
    else:
        if not path:
            raise InvalidNodeError("an extension has a non-empty path")
        if cl:
            node = _Ext(path, _decode_node(data, cs, cpe, data[cs:cpe]))
        elif cpe - cps == 32:
            node = _Ext(path, data[cs:cpe])
        else:
            raise InvalidNodeError("an extension's child is a hash or an inline node")
    node.ref = ref
    return node


def _str_payload(item: bytes) -> bytes:
    """The payload of an RLP string item (a stored value)."""
    is_list, ps, pe = _item(item, 0, len(item))
    if is_list or pe != len(item):
        raise InvalidNodeError("a value is one RLP string")
    return item[ps:pe]


class MissingNodeError(KeyError):
    """A node the trie needs is not in storage (the state is incomplete or the root is wrong)."""

    def __init__(self, node_hash: bytes) -> None:
        super().__init__(node_hash)
        self.node_hash = node_hash

    def __str__(self) -> str:
        return f"trie node {self.node_hash.hex()} is not in storage"


class _Splice:
    """A value computed from the one it replaces: ``head + old[start:stop] + tail``, or
    ``head + default + tail`` where there is none. The state layer uses it to rewrite an
    account leaf while keeping its storage root, without a separate lookup of the old leaf."""

    __slots__ = ("default", "head", "start", "stop", "tail")

    def __init__(self, head: bytes, tail: bytes, start: int, stop: int, default: bytes) -> None:
        self.head = head
        self.tail = tail
        self.start = start
        self.stop = stop
        self.default = default

    def resolve(self, old: bytes | None) -> bytes:
        return (
            self.head + (self.default if old is None else old[self.start : self.stop]) + self.tail
        )


_Value: TypeAlias = bytes | _Splice | None


# --- the trie -----------------------------------------------------------------------------------


class Trie:
    """A Merkle Patricia trie over raw byte keys (see the module docstring).

    Not thread-safe: one trie is used by one thread at a time.
    """

    __slots__ = ("_get_node", "_hash", "_pending", "_root", "_splicing")

    def __init__(self, root_hash: bytes = EMPTY_ROOT, get_node: NodeLookup | None = None) -> None:
        """Open the trie whose root is ``root_hash``, loading nodes through ``get_node``."""
        if len(root_hash) != 32:
            raise ValueError("a root hash is 32 bytes")
        self._get_node = get_node
        self._pending: dict[bytes, bytes] = {}
        self._root: _Node | bytes | None = None if root_hash == EMPTY_ROOT else root_hash
        self._hash: bytes | None = root_hash
        self._splicing = False  # whether the batch being applied has _Splice values

    # Paths: a subclass changes how keys become nibble paths.
    def _path(self, key: bytes) -> str:
        return key.hex()

    def _paths(self, keys: Iterable[bytes]) -> list[str]:
        return [k.hex() for k in keys]

    # - loading -

    def _fetch(self, node_hash: bytes) -> bytes:
        enc = self._get_node(node_hash) if self._get_node is not None else None
        if enc is None:
            raise MissingNodeError(node_hash)
        return enc

    def _load(self, ref: bytes) -> _Node:
        enc = self._fetch(ref[1:])
        return _decode_node(enc, 0, len(enc), ref)

    def _load_root(self) -> _Node:
        assert isinstance(self._root, bytes)
        enc = self._fetch(self._root)
        # The root is stored by hash whatever its size; as a ref it is what a parent would hold.
        ref = enc if len(enc) < 32 else _HASHREF + self._root
        node = _decode_node(enc, 0, len(enc), ref)
        self._root = node
        return node

    # - reading -

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        venc = self._get_venc(self._path(key))
        return None if venc is None else _str_payload(venc)

    def _get_venc(self, path: str) -> bytes | None:
        node = self._root
        if node is None:
            return None
        if isinstance(node, bytes):
            node = self._load_root()
        d = 0
        while True:
            if node.__class__ is _Branch:
                if d == len(path):
                    v = node.refs[16]
                    return None if v == _EMPTY else v
                i = _IDX[path[d]]
                kid = node.kids[i]
                if kid is None:
                    r = node.refs[i]
                    if r == _EMPTY:
                        return None
                    kid = node.kids[i] = self._load(r)
                node = kid
                d += 1
            elif node.__class__ is _Leaf:
                return node.venc if path[d:] == node.path else None
            else:
                assert isinstance(node, _Ext)
                if not path.startswith(node.path, d):
                    return None
                d += len(node.path)
                child = node.child
                if isinstance(child, bytes):
                    child = node.child = self._load(child)
                node = child

    # - hashing and persistence -

    def root_hash(self) -> bytes:
        """The root hash; encodes and hashes only the nodes changed since the last call."""
        h = self._hash
        if h is not None:
            return h
        root = self._root
        if root is None:
            h = EMPTY_ROOT
        elif isinstance(root, bytes):
            h = root
        else:
            r = root.ref
            if r is None:
                r = _hash_dirty(root, _new_keccak(), self._pending)
            if len(r) == 33:
                h = r[1:]
            else:
                # A root under 32 bytes is inline-sized, but the root is always stored by hash.
                h = keccak256(r)
                self._pending[h] = r
        self._hash = h
        return h

    def commit(self) -> dict[bytes, bytes]:
        """The nodes (hash -> RLP) hashed since the last commit, root included, to be written by
        the caller; afterwards the trie can be re-opened from ``root_hash()`` through them.

        Nodes that a later change in the same window replaced may be included: storage is
        content addressed, so they are harmless, just not needed.
        """
        self.root_hash()
        out = self._pending
        self._pending = {}
        return out

    def has_uncommitted(self) -> bool:
        """Whether changes were made whose nodes ``commit`` has not handed out yet."""
        return self._hash is None or bool(self._pending)

    # - writing -

    def update(self, changes: Mapping[bytes, bytes | None]) -> None:
        """Apply many puts and deletes at once; None or an empty value deletes the key.

        One sorted walk over the batch: shared upper nodes are visited once, not once per key,
        and nothing is hashed until ``root_hash``. If a node cannot be loaded
        (``MissingNodeError``) the batch is half applied: discard the trie.
        """
        if not changes:
            return
        by_path: dict[str, _Value] = {}
        for p, v in zip(self._paths(changes), changes.values(), strict=True):
            if not v:
                by_path[p] = None
            else:
                n = len(v)
                by_path[p] = (
                    v
                    if n == 1 and v[0] < 0x80
                    else _STR_HDR[n] + v
                    if n < 56
                    else _long_header(n, 0xB7) + v
                )
        self._update_venc(by_path)

    def _update_venc(self, by_path: Mapping[str, _Value], splicing: bool = False) -> None:
        """Apply changes keyed by path whose values are RLP items already (None deletes).

        With ``splicing``, values may be ``_Splice``s, resolved against the values they replace.
        """
        if not by_path:
            return
        ps = sorted(by_path)
        vs = [by_path[p] for p in ps]
        root = self._root
        if root is None:
            new = _build_checked(ps, vs, 0, len(ps), 0, splicing)
        else:
            if isinstance(root, bytes):
                root = self._load_root()
            self._splicing = splicing
            new = self._apply(root, ps, vs, 0, len(ps), 0)
        if new is not root or (new is not None and new.ref is None):
            self._root = new
            self._hash = None

    def _apply(
        self, node: _Node, ps: list[str], vs: list[_Value], lo: int, hi: int, d: int
    ) -> _Node | None:
        """Apply the sorted changes ``ps[lo:hi]`` (all sharing the ``d`` nibbles that lead to
        ``node``) to ``node``; returns the node that replaces it, the same object when nothing
        changed or it changed in place (then its ``ref`` is None), normalised."""
        if node.__class__ is _Branch:
            kids = node.kids
            refs = node.refs
            changed = removed = False
            i = lo
            p = ps[i]
            if len(p) == d:  # the key that ends here is the branch's value; it sorts first
                v = vs[i]
                i += 1
                if v is None:
                    if refs[16] != _EMPTY:
                        refs[16] = _EMPTY
                        changed = removed = True
                else:
                    if isinstance(v, _Splice):
                        v = v.resolve(None if refs[16] == _EMPTY else refs[16])
                    if v != refs[16]:
                        refs[16] = v
                        changed = True
            while i < hi:
                p = ps[i]
                c = p[d]
                if i + 1 < hi and ps[i + 1][d] == c:
                    j = bisect_left(ps, p[:d] + _NEXT[c], i + 2, hi)
                else:
                    j = i + 1
                idx = _IDX[c]
                kid = kids[idx]
                if kid is None:
                    r = refs[idx]
                    if r != _EMPTY:
                        kid = kids[idx] = self._load(r)
                if j == i + 1:
                    # One change below this child: the common cases (an empty slot, the leaf
                    # being changed, a leaf to split) are handled here, without recursion.
                    v = vs[i]
                    if kid is None:
                        if v is not None:
                            if isinstance(v, _Splice):
                                v = v.resolve(None)
                            kids[idx] = _Leaf(p[d + 1 :], v)
                            changed = True
                        i = j
                        continue
                    if kid.__class__ is _Leaf:
                        lp = kid.path
                        if len(p) == d + 1 + len(lp):
                            if p.endswith(lp):
                                if v is None:
                                    kids[idx] = None
                                    refs[idx] = _EMPTY
                                    changed = removed = True
                                else:
                                    if isinstance(v, _Splice):
                                        v = v.resolve(kid.venc)
                                    if v != kid.venc:
                                        kid.venc = v
                                        kid.ref = None
                                        changed = True
                            elif v is not None:
                                # Another key of the same length: neither is a prefix of the
                                # other, so they part at some nibble k under a new branch.
                                if isinstance(v, _Splice):
                                    v = v.resolve(None)
                                q = p[d + 1 :]
                                k = 0
                                while lp[k] == q[k]:
                                    k += 1
                                br = _Branch()
                                kid.path = lp[k + 1 :]
                                kid.ref = None
                                br.kids[_IDX[lp[k]]] = kid
                                br.kids[_IDX[q[k]]] = _Leaf(q[k + 1 :], v)
                                kids[idx] = _Ext(q[:k], br) if k else br
                                changed = True
                            i = j
                            continue
                if kid is None:
                    new = _build_checked(ps, vs, i, j, d + 1, self._splicing)
                else:
                    new = self._apply(kid, ps, vs, i, j, d + 1)
                if new is not kid:
                    kids[idx] = new
                    changed = True
                    if new is None:
                        refs[idx] = _EMPTY
                        removed = True
                elif new is not None and new.ref is None:
                    changed = True
                i = j
            if changed:
                node.ref = None
            if removed:
                return self._normalise_branch(node)
            return node

        if node.__class__ is _Leaf:
            lp = node.path
            if hi - lo == 1:
                p = ps[lo]
                v = vs[lo]
                if len(p) == d + len(lp) and p.endswith(lp):
                    if v is None:
                        return None
                    if isinstance(v, _Splice):
                        v = v.resolve(node.venc)
                    if v != node.venc:
                        node.venc = v
                        node.ref = None
                    return node
                if v is None:
                    return node
                if isinstance(v, _Splice):
                    v = v.resolve(None)
                full = p[:d] + lp
                if full < p:
                    return _build([full, p], [node.venc, v], 0, 2, d)
                return _build([p, full], [v, node.venc], 0, 2, d)
            full = ps[lo][:d] + lp
            k = bisect_left(ps, full, lo, hi)
            if k < hi and ps[k] == full:
                v = vs[k]
                if isinstance(v, _Splice):
                    sub = vs[lo:hi]
                    sub[k - lo] = v.resolve(node.venc)
                    return _build_checked(ps[lo:hi], sub, 0, hi - lo, d, True)
                return _build_checked(ps, vs, lo, hi, d, self._splicing)
            return _build_checked(
                [*ps[lo:k], full, *ps[k:hi]],
                [*vs[lo:k], node.venc, *vs[k:hi]],
                0,
                hi - lo + 1,
                d,
                self._splicing,
            )

        assert isinstance(node, _Ext)
        ep = node.path
        first = ps[lo]
        last = ps[hi - 1]
        if first.startswith(ep, d) and last.startswith(ep, d):
            child = node.child
            if isinstance(child, bytes):
                child = node.child = self._load(child)
            new = self._apply(child, ps, vs, lo, hi, d + len(ep))
            if new is child:
                if child.ref is None:
                    node.ref = None
                return node
            return _join(ep, new)
        # The changes leave the extension's path: split it at the first nibble where some
        # change differs, into a branch holding the rest of it, and apply them to that.
        k = min(_common(ep, first, d), _common(ep, last, d))
        br = _Branch()
        idx = _IDX[ep[k]]
        rest = ep[k + 1 :]
        child = node.child
        if rest:
            br.kids[idx] = _Ext(rest, child)
        elif isinstance(child, bytes):
            br.refs[idx] = child
        else:
            br.kids[idx] = child
            if child.ref is not None:
                br.refs[idx] = child.ref  # a clean child's ref must be current in refs
        new = self._apply(br, ps, vs, lo, hi, d + k)
        if new is br:
            # Deletes of absent keys can leave the new branch with the old child alone.
            new = self._normalise_branch(br)
        return _join(ep[:k], new) if k else new

    def _normalise_branch(self, node: _Branch) -> _Node | None:
        """A branch that lost children or its value, made canonical: a branch with one child and
        no value becomes a short node, one with no children a leaf or nothing."""
        kids = node.kids
        refs = node.refs
        only = -1
        for i in range(16):
            if kids[i] is not None or refs[i] != _EMPTY:
                if only >= 0:
                    return node
                only = i
        if only < 0:
            return None if refs[16] == _EMPTY else _Leaf("", refs[16])
        if refs[16] != _EMPTY:
            return node
        kid = kids[only]
        if kid is None:
            kid = self._load(refs[only])
        return _join(_HEX[only], kid)

    # - proofs -

    def proof(self, key: bytes) -> list[bytes]:
        """The RLP of the nodes on ``key``'s path, root first, as ``eth_getProof`` returns them:
        nodes embedded in their parent are not listed separately. Proves absence too."""
        self.root_hash()
        root = self._root
        if root is None:
            return [_EMPTY]
        if isinstance(root, bytes):
            root = self._load_root()
        path = self._path(key)
        out = [_encode(root)]
        node: _Node | None = root
        d = 0
        while node is not None:
            nxt: _Node | None
            if isinstance(node, _Branch):
                if d == len(path):
                    break
                i = _IDX[path[d]]
                nxt = node.kids[i]
                if nxt is None and node.refs[i] != _EMPTY:
                    nxt = node.kids[i] = self._load(node.refs[i])
                d += 1
            elif isinstance(node, _Ext):
                if not path.startswith(node.path, d):
                    break
                d += len(node.path)
                child = node.child
                if isinstance(child, bytes):
                    child = node.child = self._load(child)
                nxt = child
            else:
                break
            if nxt is not None and nxt.ref is not None and len(nxt.ref) == 33:
                out.append(_encode(nxt))
            node = nxt
        return out


class SecureTrie(Trie):
    """A trie keyed by keccak256(key), as Ethereum's state and storage tries are.

    Proofs and ``verify_proof`` work on the hashed key: verify with ``keccak256(key)``.
    """

    __slots__ = ()

    def _path(self, key: bytes) -> str:
        return keccak256(key).hex()

    def _paths(self, keys: Iterable[bytes]) -> list[str]:
        keccak = _new_keccak()
        return [keccak(k).hex() for k in keys]


def _common(ep: str, p: str, d: int) -> int:
    """How many leading nibbles of ``ep`` match ``p`` from position ``d``."""
    n = min(len(ep), len(p) - d)
    k = 0
    while k < n and ep[k] == p[d + k]:
        k += 1
    return k


def _join(prefix: str, node: _Node | None) -> _Node | None:
    """``node`` reached through ``prefix`` more nibbles: short nodes absorb the prefix."""
    if node is None:
        return None
    if isinstance(node, _Leaf):
        return _Leaf(prefix + node.path, node.venc)
    if isinstance(node, _Ext):
        return _Ext(prefix + node.path, node.child)
    return _Ext(prefix, node)


def _build_checked(
    ps: list[str], vs: list[_Value], lo: int, hi: int, d: int, splicing: bool
) -> _Node | None:
    """``_build`` where some changes may be deletes (of keys that are not there) or, with
    ``splicing``, ``_Splice``s (of values that are not there)."""
    if not splicing and None not in vs[lo:hi]:
        return _build(ps, vs, lo, hi, d)  # type: ignore[arg-type]
    keep = [i for i in range(lo, hi) if vs[i] is not None]
    if not keep:
        return None
    values = [v.resolve(None) if isinstance(v, _Splice) else v for v in (vs[i] for i in keep)]
    return _build([ps[i] for i in keep], values, 0, len(keep), d)  # type: ignore[arg-type]


def _build(ps: list[str], vs: Sequence[bytes], lo: int, hi: int, d: int) -> _Node:
    """A new subtree holding the sorted entries ``ps[lo:hi]`` (paths from nibble ``d``)."""
    if hi - lo == 1:
        return _Leaf(ps[lo][d:], vs[lo])
    first = ps[lo]
    last = ps[hi - 1]
    k = d
    m = min(len(first), len(last))
    while k < m and first[k] == last[k]:
        k += 1
    br = _Branch()
    kids = br.kids
    i = lo
    if len(first) == k:
        br.refs[16] = vs[lo]
        i += 1
    while i < hi:
        p = ps[i]
        c = p[k]
        if i + 1 < hi and ps[i + 1][k] == c:
            j = bisect_left(ps, p[:k] + _NEXT[c], i + 2, hi)
            kids[_IDX[c]] = _build(ps, vs, i, j, k + 1)
        else:
            j = i + 1
            kids[_IDX[c]] = _Leaf(p[k + 1 :], vs[i])
        i = j
    if k > d:
        return _Ext(first[d:k], br)
    return br


# --- proof verification -------------------------------------------------------------------------


class InvalidProofError(ValueError):
    """A proof that does not connect to the root or is malformed."""


def verify_proof(root_hash: bytes, key: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The value the proof shows ``key`` has under ``root_hash``, or None if it shows the key
    is absent. Raises ``InvalidProofError`` if the proof does not hash up to the root.

    For a ``SecureTrie`` pass the hashed key, ``keccak256(key)``.
    """
    if root_hash == EMPTY_ROOT:
        return None
    by_hash = {keccak256(n): n for n in proof}
    path = key.hex()
    d = 0
    enc = by_hash.get(root_hash)
    if enc is None:
        raise InvalidProofError("the proof does not contain the root node")
    try:
        while True:
            is_list, ps, pe = _item(enc, 0, len(enc))
            if not is_list or pe != len(enc):
                raise InvalidProofError("a proof node is one RLP list")
            items = _list_items(enc, ps, pe)
            if len(items) == 17:
                if d == len(path):
                    il, _, vs, ve = items[16]
                    return enc[vs:ve] if ve > vs and not il else None
                il, is_, cps, cpe = items[_IDX[path[d]]]
                d += 1
            elif len(items) == 2:
                (pl, _, pps, ppe), (il, is_, cps, cpe) = items
                nib = enc[pps:ppe].hex()
                if pl or not nib or nib[0] not in "0123":
                    raise InvalidProofError("bad short node")
                sub = nib[1:] if nib[0] in "13" else nib[2:]
                if nib[0] in "23":
                    if il:
                        raise InvalidProofError("a leaf value is a byte string")
                    return enc[cps:cpe] if path[d:] == sub else None
                if not path.startswith(sub, d):
                    return None
                d += len(sub)
            else:
                raise InvalidProofError("a trie node has 2 or 17 items")
            if il:
                enc = enc[is_:cpe]
            elif cpe == cps:
                return None
            elif cpe - cps == 32:
                nxt = by_hash.get(enc[cps:cpe])
                if nxt is None:
                    raise InvalidProofError("the proof is missing a node on the path")
                enc = nxt
            else:
                raise InvalidProofError("a child reference is a hash or an inline node")
    except InvalidNodeError as e:
        raise InvalidProofError(str(e)) from e
