# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""TF-IDF (sublinear tf, l2 norm per block) and one logistic regression per category, in C.

The hot loop of moderation: the Python version (dict lookups, an automaton, Counter, numpy) spent ~55 µs
a comment on a few hundred features, mostly in interpreter and numpy call overhead. Here a comment is one
pass over its word forms (one dict lookup each, for the word's id) and one over its kana text (character
1-3-grams packed into 64-bit keys, looked up in an open-addressing table), then one count and one
multiply-add loop. No state is changed by scoring, so threads may share one scorer.
"""

import sys
from array import array

from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLong
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_READ, PyUnicode_KIND, PyUnicode_DATA, PyUnicode_GET_LENGTH
from libc.math cimport exp, log, sqrt
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memset

cdef uint64_t _EMPTY = 0xFFFFFFFFFFFFFFFF
# Above every code point (0x10FFFF): fills the missing positions of a 1- or 2-gram key.
cdef uint64_t _NONE = 0x1FFFFF
cdef int _MAX_CATEGORIES = 64


cdef extern from *:
    # A hint only: start fetching a cache line that is about to be read (a no-op where unsupported).
    void __builtin_prefetch(const void* address) noexcept nogil


cdef struct _Slot:
    uint64_t key
    int32_t row


cdef class _KeyTable:
    """uint64 key -> int32 row, open addressing with linear probing (built once, read only).

    Key and row share a slot, so a lookup touches one cache line; the table is far larger than the CPU
    caches, which is why lookups are prefetched before they are made."""

    cdef _Slot* slots
    cdef uint64_t mask
    cdef int shift

    def __cinit__(self, Py_ssize_t n):
        cdef uint64_t size = 16
        cdef int bits = 4
        while size < 2 * <uint64_t>n + 16:
            size <<= 1
            bits += 1
        self.slots = <_Slot*>malloc(size * sizeof(_Slot))
        if self.slots is NULL:
            raise MemoryError()
        cdef uint64_t i
        for i in range(size):
            self.slots[i].key = _EMPTY
        self.mask = size - 1
        self.shift = 64 - bits

    def __dealloc__(self):
        free(self.slots)

    cdef inline uint64_t _slot(self, uint64_t key) noexcept nogil:
        return (key * <uint64_t>0x9E3779B97F4A7C15) >> self.shift

    cdef void put(self, uint64_t key, int32_t row) noexcept:
        cdef uint64_t i = self._slot(key)
        while self.slots[i].key != _EMPTY and self.slots[i].key != key:
            i = (i + 1) & self.mask
        self.slots[i].key = key
        self.slots[i].row = row

    cdef inline void prefetch(self, uint64_t key) noexcept nogil:
        __builtin_prefetch(&self.slots[self._slot(key)])

    cdef inline int32_t get(self, uint64_t key) noexcept nogil:
        cdef uint64_t i = self._slot(key)
        cdef uint64_t k
        while True:
            k = self.slots[i].key
            if k == key:
                return self.slots[i].row
            if k == _EMPTY:
                return -1
            i = (i + 1) & self.mask


def _check_ends(str text, const long long[::1] ends):
    """A vocabulary's end offsets must rise and end at its text's length."""
    cdef Py_ssize_t i
    cdef long long previous = 0
    for i in range(ends.shape[0]):
        if ends[i] < previous:
            raise ValueError("vocabulary end offsets must not decrease")
        previous = ends[i]
    if previous != len(text):
        raise ValueError("vocabulary text and end offsets disagree")


def explainable(str text, const long long[::1] ends):
    """One byte per term of a vocabulary (one string, the end offset of each term): 1 where the term has
    at least two characters besides spaces. Single characters explain nothing to staff."""
    _check_ends(text, ends)
    out = bytearray(ends.shape[0])
    cdef unsigned char[::1] flags = out
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i, j, begin = 0, end, seen
    for i in range(ends.shape[0]):
        end = <Py_ssize_t>ends[i]
        seen = 0
        for j in range(begin, end):
            if PyUnicode_READ(kind, data, j) != 32:
                seen += 1
        flags[i] = seen >= 2
        begin = end
    return bytes(out)


cdef struct _Share:
    double share
    int32_t row


cdef int _compare_shares(const void* x, const void* y) noexcept nogil:
    cdef const _Share* a = <const _Share*>x
    cdef const _Share* b = <const _Share*>y
    if a.share != b.share:
        return -1 if a.share > b.share else 1
    return (a.row > b.row) - (a.row < b.row)


cdef class NgramScorer:
    """Scores comments given their word forms and kana text; rows are the model's feature rows."""

    cdef dict _word_ids  # word form -> word id (every form that appears in a unigram or bigram)
    cdef int32_t* _unigram_rows  # word id -> feature row, -1 when the form is no unigram
    cdef Py_ssize_t _n_word_ids
    cdef _KeyTable _bigrams  # word id pair -> feature row
    cdef _KeyTable _chars  # packed character n-gram -> feature row
    cdef object _weights  # array('f') (n_features, 1 + k): idf², then idf * coef per category
    cdef const float[:, ::1] _w
    cdef double[64] _intercept
    cdef readonly int n_categories
    cdef readonly Py_ssize_t n_words

    def __cinit__(self):
        self._unigram_rows = NULL

    def __init__(
        self,
        str word_text,
        const long long[::1] word_ends,
        str char_text,
        const long long[::1] char_ends,
        const double[::1] idf,
        const double[::1] coef,
        intercept,
    ):
        """The word and character vocabularies are each one string and the end offset of every term in it
        (feature rows in that order, words first); ``coef`` is the (n_features, n_categories) coefficient
        matrix, row-major. Weights are kept as float32: half the memory traffic of the lookups, and still
        within 1e-6 of scikit-learn's probabilities (the sums are done in double). The vocabularies are read
        here in C: every `classify` and worker start pays for it, and as Python it cost ~0.15 s."""
        cdef Py_ssize_t n_words = word_ends.shape[0]
        cdef Py_ssize_t n = n_words + char_ends.shape[0]
        cdef int k = len(intercept)
        if idf.shape[0] != n or coef.shape[0] != n * k:
            raise ValueError("vocabularies, IDF and coefficients do not fit together")
        if k > _MAX_CATEGORIES:
            raise ValueError(f"at most {_MAX_CATEGORIES} categories")
        _check_ends(word_text, word_ends)
        _check_ends(char_text, char_ends)
        self.n_categories = k
        self.n_words = n_words
        for c in range(k):
            self._intercept[c] = float(intercept[c])
        weights = array("f", bytes(n * (k + 1) * sizeof(float)))
        cdef float[:, ::1] table = memoryview(weights).cast("B").cast("f", (n, k + 1))
        cdef Py_ssize_t r
        for r in range(n):
            table[r, 0] = idf[r] * idf[r]
            for c in range(k):
                table[r, 1 + c] = idf[r] * coef[r * k + c]
        self._weights = weights
        self._w = table

        # Word ids for every form, unigrams first so a unigram's id is small and dense. The forms are
        # interned, as the tokenise phase's are, so most lookups match on identity.
        cdef dict ids = {}
        cdef list unigrams = []  # (row, form)
        cdef list pairs = []  # (row, first form, second form)
        cdef Py_ssize_t i, j, begin = 0, end, space
        cdef int kind = PyUnicode_KIND(word_text)
        cdef void* data = PyUnicode_DATA(word_text)
        for i in range(n_words):
            end = <Py_ssize_t>word_ends[i]
            space = -1
            for j in range(begin, end):
                if PyUnicode_READ(kind, data, j) == 32:
                    space = j
                    break
            if space < 0:
                form = sys.intern(word_text[begin:end])
                ids.setdefault(form, len(ids))
                unigrams.append((i, form))
            else:
                pairs.append((i, sys.intern(word_text[begin:space]), sys.intern(word_text[space + 1 : end])))
            begin = end
        for _, first, second in pairs:
            ids.setdefault(first, len(ids))
            ids.setdefault(second, len(ids))
        self._word_ids = ids
        self._n_word_ids = len(ids)
        self._unigram_rows = <int32_t*>malloc(max(1, len(ids)) * sizeof(int32_t))
        if self._unigram_rows is NULL:
            raise MemoryError()
        for i in range(len(ids)):
            self._unigram_rows[i] = -1
        for i, form in unigrams:
            self._unigram_rows[<Py_ssize_t>ids[form]] = <int32_t>i
        self._bigrams = _KeyTable(len(pairs))
        cdef uint64_t w = <uint64_t>len(ids)
        for i, first, second in pairs:
            self._bigrams.put(<uint64_t>ids[first] * w + <uint64_t>ids[second], <int32_t>i)

        # Character n-grams: the packed key of each term, as the scoring loop builds it.
        self._chars = _KeyTable(char_ends.shape[0])
        kind = PyUnicode_KIND(char_text)
        data = PyUnicode_DATA(char_text)
        cdef uint64_t key
        begin = 0
        for i in range(char_ends.shape[0]):
            end = <Py_ssize_t>char_ends[i]
            if not 1 <= end - begin <= 3:
                raise ValueError(f"character n-gram of length {end - begin}: {char_text[begin:end]!r}")
            key = 0
            for j in range(begin, begin + 3 - (end - begin)):
                key = (key << 21) | _NONE
            for j in range(begin, end):
                key = (key << 21) | <uint64_t>PyUnicode_READ(kind, data, j)
            self._chars.put(key, <int32_t>(n_words + i))
            begin = end

    def __dealloc__(self):
        free(self._unigram_rows)

    cdef Py_ssize_t _rows(self, list forms, str kana, int32_t* out) except -1:
        """Write the feature row of every n-gram found into ``out``; returns how many."""
        cdef Py_ssize_t m = 0, i
        cdef Py_ssize_t n_forms = PyList_GET_SIZE(forms)
        cdef PyObject* found
        cdef int64_t wid, prev = -1
        cdef int32_t row
        cdef uint64_t n_ids = <uint64_t>self._n_word_ids
        for i in range(n_forms):
            found = PyDict_GetItem(self._word_ids, <object>PyList_GET_ITEM(forms, i))
            wid = -1 if found is NULL else PyLong_AsLong(<object>found)
            if wid >= 0:
                row = self._unigram_rows[wid]
                if row >= 0:
                    out[m] = row
                    m += 1
                if prev >= 0:
                    row = self._bigrams.get(<uint64_t>prev * n_ids + <uint64_t>wid)
                    if row >= 0:
                        out[m] = row
                        m += 1
            prev = wid
        cdef Py_ssize_t length = PyUnicode_GET_LENGTH(kana)
        cdef int kind = PyUnicode_KIND(kana)
        cdef void* data = PyUnicode_DATA(kana)
        cdef uint64_t a = _NONE, b = _NONE, c
        cdef _KeyTable chars = self._chars
        cdef Py_ssize_t n_keys = 0
        cdef uint64_t* keys = <uint64_t*>malloc((3 * length + 1) * sizeof(uint64_t))
        if keys is NULL:
            raise MemoryError()
        # Sliding window: at each character, the 1-gram ending here, the 2-gram and the 3-gram. All keys
        # first, each slot's fetch started, then the lookups, so the cache misses overlap.
        for i in range(length):
            c = PyUnicode_READ(kind, data, i)
            keys[n_keys] = (_NONE << 42) | (_NONE << 21) | c
            n_keys += 1
            if b != _NONE:
                keys[n_keys] = (_NONE << 42) | (b << 21) | c
                n_keys += 1
                if a != _NONE:
                    keys[n_keys] = (a << 42) | (b << 21) | c
                    n_keys += 1
            a = b
            b = c
        for i in range(n_keys):
            chars.prefetch(keys[i])
        for i in range(n_keys):
            row = chars.get(keys[i])
            if row >= 0:
                out[m] = row
                m += 1
        free(keys)
        return m

    cdef Py_ssize_t _counted(self, list forms, str kana, int32_t** rows_out, int32_t** counts_out) except -1:
        """Distinct feature rows found (in no particular order) and their counts, counted in a small
        open-addressing table. Both arrays live in one block: the caller frees ``rows_out[0]`` only."""
        cdef Py_ssize_t cap = 2 * PyList_GET_SIZE(forms) + 3 * PyUnicode_GET_LENGTH(kana) + 1
        cdef Py_ssize_t size = 16
        while size < 2 * cap:
            size <<= 1
        cdef int32_t* block = <int32_t*>malloc((cap + 2 * size) * sizeof(int32_t))
        if block is NULL:
            raise MemoryError()
        cdef int32_t* slots = block + cap
        cdef int32_t* counts = slots + size
        memset(slots, 0xFF, size * sizeof(int32_t))  # every slot -1 (empty)
        cdef Py_ssize_t m = self._rows(forms, kana, block)
        cdef Py_ssize_t i, h, u = 0
        cdef uint64_t mask = <uint64_t>(size - 1)
        cdef int32_t row
        for i in range(m):
            row = block[i]
            h = <Py_ssize_t>((<uint64_t>row * <uint64_t>0x9E3779B1) & mask)
            while slots[h] != -1 and slots[h] != row:
                h = (h + 1) & <Py_ssize_t>mask
            if slots[h] == -1:
                slots[h] = row
                counts[h] = 1
            else:
                counts[h] += 1
        # Compact to the front: the u-th occupied slot is at or after index u, so nothing unread is overwritten.
        for h in range(size):
            if slots[h] != -1:
                block[u] = slots[h]
                counts[u] = counts[h]
                u += 1
        rows_out[0] = block
        counts_out[0] = counts
        return u

    cdef void _block_scales(self, int32_t* rows, int32_t* counts, Py_ssize_t u, double* tf, double* scales):
        """Sublinear tf of each row, and 1 / l2 norm of the word block and of the character block."""
        cdef double word_sq = 0.0, char_sq = 0.0, t
        cdef Py_ssize_t i
        # Every row's weights are read twice from here on: start fetching them all first.
        for i in range(u):
            __builtin_prefetch(&self._w[rows[i], 0])
            __builtin_prefetch(&self._w[rows[i], self.n_categories])
        for i in range(u):
            t = 1.0 + log(<double>counts[i])
            tf[i] = t
            if rows[i] < self.n_words:
                word_sq += t * t * self._w[rows[i], 0]
            else:
                char_sq += t * t * self._w[rows[i], 0]
        scales[0] = 1.0 / sqrt(word_sq) if word_sq > 0.0 else 0.0
        scales[1] = 1.0 / sqrt(char_sq) if char_sq > 0.0 else 0.0

    cdef void _probabilities(
        self, int32_t* rows, Py_ssize_t u, double* tf, double* scales, double* probs
    ) noexcept:
        cdef double[64] word_dot
        cdef double[64] char_dot
        cdef int k = self.n_categories, c
        cdef Py_ssize_t i
        cdef double z
        cdef const float* w
        for c in range(k):
            word_dot[c] = 0.0
            char_dot[c] = 0.0
        for i in range(u):
            w = &self._w[rows[i], 1]
            if rows[i] < self.n_words:
                for c in range(k):
                    word_dot[c] += tf[i] * w[c]
            else:
                for c in range(k):
                    char_dot[c] += tf[i] * w[c]
        for c in range(k):
            z = self._intercept[c] + word_dot[c] * scales[0] + char_dot[c] * scales[1]
            # Below -700 exp() overflows; the probability is 0 to double precision anyway.
            probs[c] = 1.0 / (1.0 + exp(-z)) if z > -700.0 else 0.0

    cdef list _ranked(
        self, int32_t* rows, Py_ssize_t u, double* tf, double* scales, int category,
        const unsigned char* eligible,
    ):
        """Rows of the eligible features that pushed ``category`` up, most first (ties: lower row first)."""
        cdef _Share* shares = <_Share*>malloc((u + 1) * sizeof(_Share))
        cdef Py_ssize_t i, n = 0
        cdef double share
        if shares is NULL:
            raise MemoryError()
        for i in range(u):
            if not eligible[rows[i]]:
                continue
            share = tf[i] * scales[0 if rows[i] < self.n_words else 1] * self._w[rows[i], 1 + category]
            if share > 0.0:
                shares[n].share = share
                shares[n].row = rows[i]
                n += 1
        qsort(shares, n, sizeof(_Share), _compare_shares)
        out = [shares[i].row for i in range(n)]
        free(shares)
        return out

    cdef tuple _run(self, list forms, str kana, const double* cutoffs, const unsigned char* eligible):
        """Probabilities and, given ``cutoffs``, the category furthest over its cut-off (the first of
        equals; -1 when none reaches it) with its ranked rows (``_ranked``)."""
        cdef int k = self.n_categories, c, best = -1
        cdef int32_t* rows
        cdef int32_t* counts
        cdef Py_ssize_t u = self._counted(forms, kana, &rows, &counts)
        cdef double* tf = <double*>malloc((u + 1) * sizeof(double))
        cdef double[64] probs
        cdef double[2] scales
        if tf is NULL:
            free(rows)
            raise MemoryError()
        self._block_scales(rows, counts, u, tf, scales)
        self._probabilities(rows, u, tf, scales, probs)
        if cutoffs is not NULL:
            for c in range(k):
                if probs[c] >= cutoffs[c] and (best < 0 or probs[c] - cutoffs[c] > probs[best] - cutoffs[best]):
                    best = c
        try:
            ranked = self._ranked(rows, u, tf, scales, best, eligible) if best >= 0 else []
        finally:
            free(rows)
            free(tf)
        return [probs[c] for c in range(k)], best, ranked

    def judge(self, list forms, str kana, const double[::1] cutoffs, const unsigned char[::1] eligible):
        """(probabilities, explained category, its ranked feature rows) for one comment.

        The explained category is the one furthest over its cut-off (the first of equals), or -1 when no
        probability reaches its cut-off; its rows are the eligible features (``eligible[row]`` non-zero)
        that pushed it up, most first, and empty when there is nothing to explain."""
        if cutoffs.shape[0] != self.n_categories or eligible.shape[0] < self._w.shape[0]:
            raise ValueError("cutoffs must have one value per category and eligible one per feature row")
        return self._run(forms, kana, &cutoffs[0], &eligible[0])

    def score(self, list forms, str kana):
        """Each category's probability (a list of floats) for a comment's word forms and kana text."""
        return self._run(forms, kana, NULL, NULL)[0]
