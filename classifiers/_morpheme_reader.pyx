# cython: language_level=3, boundscheck=False, wraparound=False
"""The tokenise phase's per-morpheme loop, compiled: it runs for every morpheme of every comment.

Reading a SudachiPy MorphemeList costs two method calls a morpheme (end offset, word id) plus a cache
lookup; interpreted, the loop around them cost about as much as the calls themselves.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject


def read_morphemes(morphemes, Py_ssize_t base, list ends, list forms, dict cached):
    """Append each morpheme's end offset (plus ``base``) to ``ends`` and its ``cached[word id]`` entry to
    ``forms`` (None when not cached); returns how many were not cached."""
    cdef Py_ssize_t misses = 0
    cdef PyObject* found
    for m in morphemes:
        ends.append(base + <Py_ssize_t>m.end())
        found = PyDict_GetItem(cached, m.word_id())
        if found is NULL:
            forms.append(None)
            misses += 1
        else:
            forms.append(<object>found)
    return misses
