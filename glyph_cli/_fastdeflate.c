/* glyph's page deflate: a small, fast, deterministic deflate encoder (RFC 1951) for PNG scanlines.

   Rendered text pages are mostly runs of one grey (the background) broken by antialiased glyphs, and
   the same glyph at the same sub-pixel phase is the same run of bytes wherever it is drawn. So the
   encoder looks for two things only, greedily, left to right:
     - a run of the byte just before (a match at distance 1), measured first at every position;
     - a repeat of the 4 bytes here seen earlier, through a one-entry-per-bucket hash table of the
       positions where literals were written (no positions are inserted inside matches).
   Tokens are coded in dynamic-Huffman blocks of at most BLOCK_TOKENS tokens, code lengths from a
   plain Huffman construction limited to 15 (7 for the code-length code) by halving the counts until
   they fit. Every choice is a pure function of the input bytes: no state outlives a call and no
   platform-specific path exists, so the same scanlines give the same bytes on every machine, which
   is what lets a bundle rebuild a PNG byte for byte from its pixels (bundle/pagecodec.py).

   FORMAT_ID names this exact output; any change to what bytes come out must change it.

   Measured against libdeflate: see the module notes of glyph_cli/typeset/png.py. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_ID "glyph-deflate-1"

#define HASH_BITS 14
#define MIN_MATCH 4
#define MAX_MATCH 258
#define MAX_DIST 32768  /* distances are < MAX_DIST: they fit 15 bits */
#define BLOCK_TOKENS 65536

/* ---- tokens: literal (byte < 256) or match (bit 31, distance code << 25, length << 16, distance) --- */

/* Words are read and written little-endian whatever the machine: the output cannot depend on it. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE32(x) __builtin_bswap32(x)
#define LE64(x) __builtin_bswap64(x)
#else
#define LE32(x) (x)
#define LE64(x) (x)
#endif

static inline uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return LE32(v); }
static inline uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return LE64(v); }

/* How many bytes at a equal those at b, at most `limit` (a > b; both readable for `limit` bytes). */
static inline size_t match_length(const uint8_t *a, const uint8_t *b, size_t limit)
{
    size_t n = 0;
    while (n + 8 <= limit) {
        uint64_t x = load64(a + n) ^ load64(b + n);
        if (x) return n + (size_t)(__builtin_ctzll(x) >> 3);  /* the lowest set byte: the first that differs */
        n += 8;
    }
    while (n < limit && a[n] == b[n]) n++;
    return n;
}

/* ---- symbol tables (RFC 1951 3.2.5) -------------------------------------------------------------- */

static const uint16_t LEN_BASE[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                      67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t LEN_EXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t DIST_BASE[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                                       1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t DIST_EXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t CL_ORDER[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

static uint8_t len_code[MAX_MATCH + 1];  /* length -> index into LEN_BASE */
static uint8_t dist_code_lo[513];        /* distance - 1 < 512 -> code; above: dist_code_hi[(d - 1) >> 8] */
static uint8_t dist_code_hi[128];

static void init_tables(void)
{
    for (int c = 0; c < 29; c++) {
        int hi = c == 28 ? 258 : LEN_BASE[c] + (1 << LEN_EXTRA[c]) - 1;
        for (int l = LEN_BASE[c]; l <= hi && l <= MAX_MATCH; l++) len_code[l] = (uint8_t)c;
    }
    len_code[258] = 28;  /* 258 has its own code, not 227 + 31 */
    for (int c = 0; c < 30; c++) {
        int lo = DIST_BASE[c], hi = DIST_BASE[c] + (1 << DIST_EXTRA[c]) - 1;
        for (int d = lo; d <= hi; d++) {
            if (d - 1 < 512) dist_code_lo[d - 1] = (uint8_t)c;
            else dist_code_hi[(d - 1) >> 8] = (uint8_t)c;
        }
    }
}

static inline int dist_code(uint32_t d) { return d - 1 < 512 ? dist_code_lo[d - 1] : dist_code_hi[(d - 1) >> 8]; }

/* ---- bit writer ---------------------------------------------------------------------------------- */

typedef struct {
    uint8_t *out;
    uint64_t bits;
    unsigned count;  /* bits held in `bits`: under 8 after put_flush */
} BitWriter;

/* Add n <= 32 bits, LSB first; at most 56 bits may wait between two put_flush calls. */
static inline void put_bits(BitWriter *w, uint32_t value, unsigned n)
{
    w->bits |= (uint64_t)value << w->count;
    w->count += n;
}

/* Write the whole bytes held (one unaligned 8-byte store: the bound in compress() leaves room). */
static inline void put_flush(BitWriter *w)
{
    uint64_t le = LE64(w->bits);
    memcpy(w->out, &le, 8);
    w->out += w->count >> 3;
    w->bits >>= w->count & ~7u;  /* count < 64: a shift of at most 56 */
    w->count &= 7;
}

static void flush_bits(BitWriter *w)
{
    put_flush(w);
    if (w->count) *w->out++ = (uint8_t)w->bits;
    w->count = 0;
    w->bits = 0;
}

/* ---- Huffman code lengths ------------------------------------------------------------------------ */

/* Code lengths for `n` symbols from their counts, none longer than `limit`; at least two symbols get
   a length (the codes are complete, which every inflater accepts). Deterministic: ties are broken by
   symbol number. */
static void code_lengths(const uint32_t *counts_in, int n, int limit, uint8_t *lengths)
{
    uint32_t counts[288];
    memcpy(counts, counts_in, sizeof(uint32_t) * (size_t)n);
    int used = 0;
    for (int s = 0; s < n; s++) used += counts[s] != 0;
    for (int s = 0; used < 2 && s < n; s++)
        if (!counts[s]) { counts[s] = 1; used++; }
    for (;;) {
        /* nodes: leaves 0..m-1 sorted by (count, symbol); internal nodes appended; two-queue merge */
        int sym[288], m = 0;
        for (int s = 0; s < n; s++) if (counts[s]) sym[m++] = s;
        for (int i = 1; i < m; i++) {  /* insertion sort: m <= 288, stable on symbol order */
            int s = sym[i], j = i - 1;
            while (j >= 0 && counts[sym[j]] > counts[s]) { sym[j + 1] = sym[j]; j--; }
            sym[j + 1] = s;
        }
        uint64_t weight[2 * 288];
        int parent[2 * 288];
        for (int i = 0; i < m; i++) weight[i] = counts[sym[i]];
        int leaf = 0, inner = m, next = m;
        for (int k = 0; k < m - 1; k++) {
            int pick[2];
            for (int t = 0; t < 2; t++) {
                if (leaf < m && (inner >= next || weight[leaf] <= weight[inner])) pick[t] = leaf++;
                else pick[t] = inner++;
            }
            weight[next] = weight[pick[0]] + weight[pick[1]];
            parent[pick[0]] = parent[pick[1]] = next;
            next++;
        }
        int depth[2 * 288];
        depth[next - 1] = 0;
        for (int i = next - 2; i >= 0; i--) depth[i] = depth[parent[i]] + 1;
        int longest = 0;
        for (int i = 0; i < m; i++) if (depth[i] > longest) longest = depth[i];
        if (longest <= limit) {
            memset(lengths, 0, (size_t)n);
            for (int i = 0; i < m; i++) lengths[sym[i]] = (uint8_t)depth[i];
            return;
        }
        for (int s = 0; s < n; s++) if (counts[s]) counts[s] = (counts[s] + 1) >> 1;  /* flatten, try again */
    }
}

/* Canonical codes (RFC 1951 3.2.2), bit-reversed for LSB-first writing. */
static void canonical_codes(const uint8_t *lengths, int n, uint16_t *codes)
{
    uint16_t bl_count[16] = {0}, next_code[16];
    for (int s = 0; s < n; s++) bl_count[lengths[s]]++;
    bl_count[0] = 0;
    uint16_t code = 0;
    for (int b = 1; b < 16; b++) { code = (uint16_t)((code + bl_count[b - 1]) << 1); next_code[b] = code; }
    for (int s = 0; s < n; s++) {
        int len = lengths[s];
        if (!len) { codes[s] = 0; continue; }
        uint16_t c = next_code[len]++, r = 0;
        for (int i = 0; i < len; i++) { r = (uint16_t)((r << 1) | (c & 1)); c >>= 1; }
        codes[s] = r;
    }
}

/* ---- one block ----------------------------------------------------------------------------------- */

typedef struct {
    uint32_t lit[286], dist[30];
} Counts;

static void write_block(BitWriter *w, const uint32_t *tok, size_t ntok, Counts *counts, int final)
{
    counts->lit[256] = 1;
    uint8_t lens[286 + 30];
    code_lengths(counts->lit, 286, 15, lens);
    code_lengths(counts->dist, 30, 15, lens + 286);
    int hlit = 286, hdist = 30;
    while (hlit > 257 && !lens[hlit - 1]) hlit--;
    while (hdist > 1 && !lens[286 + hdist - 1]) hdist--;
    /* the code lengths as one sequence, run-length coded with symbols 16, 17, 18 */
    uint8_t seq[286 + 30];
    int nseq = 0;
    for (int i = 0; i < hlit; i++) seq[nseq++] = lens[i];
    for (int i = 0; i < hdist; i++) seq[nseq++] = lens[286 + i];
    uint8_t rle_sym[286 + 30], rle_extra[286 + 30];
    int nrle = 0;
    uint32_t cl_counts[19] = {0};
    for (int i = 0; i < nseq;) {
        int v = seq[i], run = 1;
        while (i + run < nseq && seq[i + run] == v) run++;
        if (v == 0 && run >= 3) {
            int r = run > 138 ? 138 : run;
            if (r >= 11) { rle_sym[nrle] = 18; rle_extra[nrle++] = (uint8_t)(r - 11); }
            else { rle_sym[nrle] = 17; rle_extra[nrle++] = (uint8_t)(r - 3); }
            i += r;
        } else if (v != 0 && run >= 4) {
            rle_sym[nrle] = (uint8_t)v; rle_extra[nrle++] = 0;
            int r = run - 1 > 6 ? 6 : run - 1;
            rle_sym[nrle] = 16; rle_extra[nrle++] = (uint8_t)(r - 3);
            i += 1 + r;
        } else {
            rle_sym[nrle] = (uint8_t)v; rle_extra[nrle++] = 0;
            i += 1;
        }
    }
    for (int i = 0; i < nrle; i++) cl_counts[rle_sym[i]]++;
    uint8_t cl_lens[19];
    uint16_t cl_codes[19];
    code_lengths(cl_counts, 19, 7, cl_lens);
    canonical_codes(cl_lens, 19, cl_codes);
    int hclen = 19;
    while (hclen > 4 && !cl_lens[CL_ORDER[hclen - 1]]) hclen--;

    put_bits(w, (uint32_t)(final ? 1 : 0) | (2u << 1), 3);
    put_bits(w, (uint32_t)(hlit - 257), 5);
    put_bits(w, (uint32_t)(hdist - 1), 5);
    put_bits(w, (uint32_t)(hclen - 4), 4);
    put_flush(w);
    for (int i = 0; i < hclen; i++) { put_bits(w, cl_lens[CL_ORDER[i]], 3); put_flush(w); }
    static const uint8_t EXTRA_BITS[19] = {[16] = 2, [17] = 3, [18] = 7};
    for (int i = 0; i < nrle; i++) {
        int s = rle_sym[i];
        put_bits(w, cl_codes[s], cl_lens[s]);
        if (s >= 16) put_bits(w, rle_extra[i], EXTRA_BITS[s]);
        put_flush(w);
    }

    /* each symbol's code and length in one word: code | length << 16 */
    uint16_t lit_codes[286], dist_codes[30];
    canonical_codes(lens, 286, lit_codes);
    canonical_codes(lens + 286, 30, dist_codes);
    uint32_t lit_word[286], len_word[29], dist_word[30];
    for (int i = 0; i < 286; i++) lit_word[i] = lit_codes[i] | (uint32_t)lens[i] << 16;
    for (int c = 0; c < 29; c++) len_word[c] = lit_word[257 + c];
    for (int c = 0; c < 30; c++) dist_word[c] = dist_codes[c] | (uint32_t)lens[286 + c] << 16;
    for (size_t i = 0; i < ntok; i++) {
        uint32_t t = tok[i];
        if (t & 0x80000000u) {
            uint32_t len = (t >> 16) & 0x1FF, dist = t & 0xFFFF;
            int lc = len_code[len], dc = (int)((t >> 25) & 0x1F);
            put_bits(w, len_word[lc] & 0xFFFF, len_word[lc] >> 16);
            put_bits(w, len - LEN_BASE[lc], LEN_EXTRA[lc]);
            put_bits(w, dist_word[dc] & 0xFFFF, dist_word[dc] >> 16);
            put_bits(w, dist - DIST_BASE[dc], DIST_EXTRA[dc]);
        } else {
            put_bits(w, lit_word[t] & 0xFFFF, lit_word[t] >> 16);
        }
        put_flush(w);
    }
    put_bits(w, lit_word[256] & 0xFFFF, lit_word[256] >> 16);
    put_flush(w);
}

/* ---- the matcher --------------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *data;
    size_t n, pos;
    int32_t table[1 << HASH_BITS];  /* a position per hash of 4 bytes; -1: none */
} Matcher;

/* The next tokens of the input, at most BLOCK_TOKENS, into tok, counted into counts; returns how many. */
static size_t tokenize(Matcher *m, uint32_t *tok, Counts *counts)
{
    const uint8_t *data = m->data;
    size_t n = m->n, pos = m->pos, nt = 0;
    memset(counts, 0, sizeof *counts);
    if (pos == 0 && n > 0) { tok[nt++] = data[0]; counts->lit[data[0]]++; pos = 1; }
    while (pos < n && nt < BLOCK_TOKENS) {
        size_t room = n - pos < MAX_MATCH ? n - pos : MAX_MATCH;
        if (room >= MIN_MATCH && load32(data + pos) == data[pos - 1] * 0x01010101u) {  /* 4 of the byte before */
            size_t run = match_length(data + pos, data + pos - 1, room);
            if (run >= MIN_MATCH) {
                tok[nt++] = 0x80000000u | ((uint32_t)run << 16) | 1u;  /* distance code 0 */
                counts->lit[257 + len_code[run]]++;
                counts->dist[0]++;
                pos += run;
                continue;
            }
        }
        if (n - pos >= 8) {  /* the hash needs 4 bytes and match_length reads words: keep 8 back from the end */
            uint32_t h = (load32(data + pos) * 2654435761u) >> (32 - HASH_BITS);
            int32_t cand = m->table[h];
            m->table[h] = (int32_t)pos;
            if (cand >= 0 && pos - (size_t)cand < MAX_DIST && load32(data + cand) == load32(data + pos)) {
                size_t len = match_length(data + pos, data + cand, room);  /* >= 4: the words matched */
                uint32_t dist = (uint32_t)(pos - (size_t)cand);
                uint32_t dc = (uint32_t)dist_code(dist);
                tok[nt++] = 0x80000000u | (dc << 25) | ((uint32_t)len << 16) | dist;
                counts->lit[257 + len_code[len]]++;
                counts->dist[dc]++;
                pos += len;
                continue;
            }
        }
        tok[nt++] = data[pos];
        counts->lit[data[pos]]++;
        pos++;
    }
    m->pos = pos;
    return nt;
}

/* A literal costs at most 15 bits, a match of 4 or more bytes at most 48; each block adds under 512
   bytes of header and end code; the last 8-byte store may reach 8 bytes past the end. */
static size_t bound(size_t n) { return 2 * n + 512 * (n / BLOCK_TOKENS + 1) + 64; }

/* The raw deflate stream of data[0:n] into out (room for bound(n)); returns its length. */
static size_t compress_raw(const uint8_t *data, size_t n, uint8_t *out, uint32_t *tok, Matcher *m, Counts *counts)
{
    m->data = data;
    m->n = n;
    m->pos = 0;
    for (size_t i = 0; i < (1u << HASH_BITS); i++) m->table[i] = -1;
    BitWriter w = {out, 0, 0};
    do {
        size_t nt = tokenize(m, tok, counts);
        write_block(&w, tok, nt, counts, m->pos == n);
    } while (m->pos < n);
    flush_bits(&w);
    return (size_t)(w.out - out);
}

/* ---- Python ---------------------------------------------------------------------------------------- */

static PyObject *py_compress(PyObject *Py_UNUSED(self), PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    size_t n = (size_t)view.len;
    PyObject *result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)bound(n));
    uint32_t *tok = malloc(sizeof(uint32_t) * BLOCK_TOKENS);
    Matcher *m = malloc(sizeof *m);
    Counts *counts = malloc(sizeof *counts);
    if (!result || !tok || !m || !counts) {
        free(tok); free(m); free(counts); Py_XDECREF(result); PyBuffer_Release(&view);
        return result ? PyErr_NoMemory() : NULL;
    }
    size_t size;
    Py_BEGIN_ALLOW_THREADS
    size = compress_raw((const uint8_t *)view.buf, n, (uint8_t *)PyBytes_AS_STRING(result), tok, m, counts);
    Py_END_ALLOW_THREADS
    free(tok);
    free(m);
    free(counts);
    PyBuffer_Release(&view);
    if (_PyBytes_Resize(&result, (Py_ssize_t)size) < 0) return NULL;
    return result;
}

static PyMethodDef METHODS[] = {
    {"compress", py_compress, METH_O,
     "compress(data) -> bytes: the raw deflate stream (no zlib wrapper) of a bytes-like object. The same\n"
     "bytes in give the same bytes out on every machine: FORMAT_ID names the output."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fastdeflate",
    .m_doc = "glyph's deterministic deflate encoder for page scanlines.",
    .m_size = -1,
    .m_methods = METHODS,
};

PyMODINIT_FUNC PyInit__fastdeflate(void)
{
    init_tables();
    PyObject *m = PyModule_Create(&MODULE);
    if (m && PyModule_AddStringConstant(m, "FORMAT_ID", FORMAT_ID) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
