/*  healer_templates: online log-template miner (see healer_templates.h and
    docs/fingerprint.md). A line is cut into tokens, the parts of tokens that
    look like values (digits, paths, host names, hex addresses, timestamps,
    sizes) become "<*>", and the line joins the most similar template among
    those that share its token count and leading token; if none is similar
    enough it starts a new template. All memory is bounded by the config: a
    fixed slot table, LRU eviction, fixed per-line scratch. */
#include "healer_templates.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_NO_SLOT UINT32_MAX
#define S_WILD "<*>"
#define S_WILD_LEN 3
// Token hash of "<*>": any fixed value that a real hash is unlikely to hit.
#define S_WILD_HASH UINT64_C(0x9e3779b97f4a7c15)
#define S_FILE_HEADER "healbus-templates 1"
// Longest rendered template for a line cap: masking at most triples the
// bytes, and the joining spaces replace whitespace that was there.
#define S_TEXT_CAP(line_cap) (4 * (size_t)(line_cap) + 8)

typedef struct {
    uint32_t id;    // HEALER_TEMPLATES_NONE while the slot is free
    uint32_t ntok;  // tokens in the template
    uint64_t leaf;  // hash of the token count and leading token
    uint64_t hits;  // messages absorbed
    uint64_t *tok;  // owned block: ntok token hashes (S_WILD_HASH for
                    // "<*>"), then the rendered template
    char *text;     // inside the tok block, NUL-terminated
    size_t mem_cap; // bytes in the tok block
    uint32_t newer; // LRU neighbours (slot numbers or S_NO_SLOT)
    uint32_t older;
    uint32_t next; // next slot in the same leaf bucket
} group_t;

// One tokenised line, in the miner's scratch: no allocation per line.
typedef struct {
    char *buf;        // masked token texts, back to back, no separators
    const char **ptr; // token i is ptr[i][0 .. len[i]), in buf or S_WILD
    uint32_t *len;
    uint64_t *hash;
    uint32_t ntok;
    uint64_t leaf;
} line_t;

struct healer_templates {
    healer_templates_cfg_t cfg;
    group_t *groups;    // owned: cfg.max_groups slots
    uint32_t used;      // slots handed out so far (they fill in order)
    uint32_t free_head; // slots given back after a failed allocation
    uint32_t live;      // slots holding a group
    uint32_t newest;    // LRU ends
    uint32_t oldest;
    uint32_t *buckets; // owned: leaf hash -> first slot
    size_t bucket_mask;
    uint32_t *id_keys;  // owned: open-addressed id -> slot table
    uint32_t *id_slots; // owned
    size_t id_mask;
    uint32_t next_id;
    uint64_t evictions;
    line_t line;       // owned buffers: the line being added
    char *render;      // owned: scratch for re-rendering a template
    uint64_t *gen_tok; // owned: scratch for a generalised template's hashes
};

//  --------------------------------------------------------------------------
//  Character classes and hashing

static bool
s_is_space(unsigned char c)
{
    // Control bytes and NUL split tokens too, so no template carries them
    // and the TAB/newline framing of `healbus fingerprint` stays intact.
    return c <= ' ' || c == 0x7f;
}

static bool
s_is_delim(unsigned char c)
{
    // Punctuation that glues a key to its value ("uid=0", "port:80",
    // "(pid 12)"): split there so the key survives while the value is masked.
    switch (c) {
    case '=':
    case ':':
    case ',':
    case ';':
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case '<':
    case '>':
    case '"':
    case '\'':
    case '|':
        return true;
    default:
        return false;
    }
}

static uint64_t
s_hash_step(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t
s_hash(const char *p, size_t n)
{
    uint64_t h = s_hash_step(UINT64_C(0xcbf29ce484222325), p, n);
    return h == S_WILD_HASH ? h + 1 : h;
}

static size_t
s_pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

//  --------------------------------------------------------------------------
//  Tokenising and masking one line into self->line

typedef enum { S_PIECE_WORD, S_PIECE_VALUE, S_PIECE_PATH } s_piece_t;

// Units of a byte count, each padded to 5 bytes with NULs.
static const char s_size_units[] = "B\0\0\0\0KB\0\0\0MB\0\0\0GB\0\0\0TB\0\0\0"
                                   "KiB\0\0MiB\0\0GiB\0\0TiB\0\0bytes";

// Length of a table entry padded with NULs to `width` bytes.
static size_t
s_entry_len(const char *entry, size_t width)
{
    const char *nul = memchr(entry, '\0', width);
    return nul ? (size_t)(nul - entry) : width;
}

static bool
s_is_size_unit(const char *p, size_t n)
{
    for (const char *u = s_size_units; *u; u += 5) {
        if (s_entry_len(u, 5) == n && memcmp(u, p, n) == 0)
            return true;
    }
    return false;
}

// Top-level domains that mark a dotted name as an Internet host name
// ("mail.example.org") rather than a code name ("org.example.Main", where
// the domain comes first), padded to 4 bytes.
static const char s_host_tlds[] = "com\0net\0org\0edu\0gov\0mil\0int\0info"
                                  "biz\0";

static bool
s_is_host_name(const char *p, size_t n)
{
    const char *dot = memchr(p, '.', n);
    while (dot) {
        const char *label = dot + 1;
        const char *next = memchr(label, '.', n - (size_t)(label - p));
        size_t len = (size_t)((next ? next : p + n) - label);
        for (const char *t = s_host_tlds; *t && len <= 4; t += 4) {
            if (s_entry_len(t, 4) == len && memcmp(t, label, len) == 0)
                return true;
        }
        dot = next;
    }
    return false;
}

// Is the piece a value? One with a digit is an id, a count, an address, a
// time or a hex value in nearly every log; one shaped like a path or URL
// ("/var/x", "a/b/c", "//host/x") names a resource, not an event; so does a
// host name.
static s_piece_t
s_piece_class(const char *p, size_t n)
{
    size_t slashes = 0;
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        digit |= p[i] >= '0' && p[i] <= '9';
        slashes += p[i] == '/';
    }
    bool relative = (n > 2 && p[0] == '.' && p[1] == '/') ||
                    (n > 2 && p[0] == '~' && p[1] == '/') ||
                    (n > 3 && memcmp(p, "../", 3) == 0);
    if ((n > 1 && p[0] == '/') || slashes >= 2 || relative)
        return S_PIECE_PATH;
    return digit || s_is_host_name(p, n) ? S_PIECE_VALUE : S_PIECE_WORD;
}

// Where a path that began in a token of n bytes ends: paths carry '=' ':' ','
// of their own (query strings, ports), so only the closing punctuation at the
// very end of the token is left outside.
static size_t
s_path_end(const char *p, size_t n)
{
    while (n > 0 && strchr("\"')]}>,;:", p[n - 1]) != NULL)
        n--;
    return n;
}

// A MAC, IPv6 address, UUID or hex dump ("FF:F2:9F:16:E2:23", "fe80::1"):
// only hex digits and separators, with at least one separator and one
// decimal digit, so that hex pieces without a digit ("FF") are caught too.
static bool
s_is_hex_address(const char *p, size_t n)
{
    bool digit = false;
    bool sep = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool dec = c >= '0' && c <= '9';
        bool hex = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        bool is_sep = c == ':' || c == '-' || c == '.';
        if (!dec && !hex && !is_sep)
            return false;
        digit |= dec;
        sep |= is_sep;
    }
    return digit && sep;
}

// "=", ":" or "," alone are separators, not values.
static bool
s_is_sep_only(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strchr("([{<\"')]}>", p[i]) == NULL)
            return true;
    }
    return false;
}

// Mask one whitespace-delimited token piece by piece; returns bytes written.
// A token with no constant piece left ("<*>,<*>", "(<*>)", "<*>:<*>") is a
// value as a whole, possibly a list of them: it becomes a single "<*>" so
// that one address and two addresses look alike.
static size_t
s_mask_token(const char *p, size_t n, char *out, bool after_value)
{
    if (s_is_hex_address(p, n)) {
        memcpy(out, S_WILD, S_WILD_LEN);
        return S_WILD_LEN;
    }
    size_t w = 0;
    size_t i = 0;
    bool constant = false;
    bool variable = false;
    while (i < n) {
        if (s_is_delim((unsigned char)p[i])) {
            out[w++] = p[i++];
            continue;
        }
        size_t start = i;
        while (i < n && !s_is_delim((unsigned char)p[i]))
            i++;
        s_piece_t kind = s_piece_class(p + start, i - start);
        // A byte unit right after a number is part of that size: "5.2 KB,"
        // and "93.0 B," are the same kind of value.
        if (kind == S_PIECE_WORD && start == 0 && after_value &&
            s_is_size_unit(p, i))
            kind = S_PIECE_VALUE;
        if (kind == S_PIECE_WORD) {
            memcpy(out + w, p + start, i - start);
            w += i - start;
            constant = true;
            continue;
        }
        if (kind == S_PIECE_PATH && s_path_end(p, n) > i)
            i = s_path_end(p, n);
        memcpy(out + w, S_WILD, S_WILD_LEN);
        w += S_WILD_LEN;
        variable = true;
    }
    // Only brackets or quotes ("()", "[]", "''") is an empty value.
    if (!constant && w > 0 && w <= 2 && !s_is_sep_only(out, w))
        variable = true;
    if (variable && !constant) {
        memcpy(out, S_WILD, S_WILD_LEN);
        w = S_WILD_LEN;
    }
    return w;
}

static void
s_push_token(line_t *ln, uint32_t off, uint32_t len)
{
    const char *t = ln->buf + off;
    bool wild = len == S_WILD_LEN && memcmp(t, S_WILD, S_WILD_LEN) == 0;
    ln->ptr[ln->ntok] = t;
    ln->len[ln->ntok] = len;
    ln->hash[ln->ntok] = wild ? S_WILD_HASH : s_hash(t, len);
    ln->ntok++;
}

static void
s_set_wild(line_t *ln, uint32_t i)
{
    ln->ptr[i] = S_WILD;
    ln->len[i] = S_WILD_LEN;
    ln->hash[i] = S_WILD_HASH;
}

// Is token i one of the words in `names`, a list of `width`-byte entries?
static bool
s_token_in(const line_t *ln, uint32_t i, const char *names, size_t width)
{
    if (i >= ln->ntok || ln->len[i] > width || ln->hash[i] == S_WILD_HASH)
        return false;
    for (const char *n = names; *n; n += width) {
        size_t nlen = s_entry_len(n, width);
        if (nlen == ln->len[i] && memcmp(n, ln->ptr[i], nlen) == 0)
            return true;
    }
    return false;
}

// Weekday and month abbreviations of C's asctime and syslog stamps.
static const char s_date_names[] = "MonTueWedThuFriSatSun"
                                   "JanFebMarAprMayJunJulAugSepOctNovDec";

static bool
s_is_wild(const line_t *ln, uint32_t i)
{
    return i < ln->ntok && ln->hash[i] == S_WILD_HASH;
}

// A day or month name next to a number or another such name is part of a
// timestamp ("Sun Jul 17 23:21:54 2005"), so a value; alone it is a word.
static void
s_mask_context(line_t *ln)
{
    for (uint32_t i = 0; i < ln->ntok; i++) {
        if (!s_token_in(ln, i, s_date_names, 3))
            continue;
        if ((i > 0 && s_is_wild(ln, i - 1)) || s_is_wild(ln, i + 1) ||
            s_token_in(ln, i + 1, s_date_names, 3))
            s_set_wild(ln, i);
    }
}

// Consecutive values become one: lists of ids, addresses or words of a
// timestamp vary in length from one message of a kind to the next.
static void
s_fold_runs(line_t *ln)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < ln->ntok; i++) {
        if (kept > 0 && s_is_wild(ln, i) && s_is_wild(ln, kept - 1))
            continue;
        ln->ptr[kept] = ln->ptr[i];
        ln->len[kept] = ln->len[i];
        ln->hash[kept] = ln->hash[i];
        kept++;
    }
    ln->ntok = kept;
}

static size_t
s_skip_space(const char *text, size_t i, size_t len)
{
    while (i < len && s_is_space((unsigned char)text[i]))
        i++;
    return i;
}

// The leaf groups templates that may be compared at all: same token count
// and same first token, unless that token is a variable.
static uint64_t
s_leaf_key(const line_t *ln)
{
    uint64_t h = s_hash_step(UINT64_C(0x84222325cbf29ce4),
                             (const char *)&ln->ntok, sizeof ln->ntok);
    if (ln->ntok > 0)
        h = s_hash_step(h, (const char *)&ln->hash[0], sizeof ln->hash[0]);
    return h;
}

// Tokenise at most `cap` bytes of text; line.buf holds 3 * cap bytes, since
// masking turns one digit into three bytes at worst.
static void
s_tokenize(healer_templates_t *self, const char *text, size_t len, size_t cap)
{
    line_t *ln = &self->line;
    size_t max_tok = self->cfg.max_tokens;
    if (len > cap)
        len = cap;
    ln->ntok = 0;
    uint32_t w = 0;
    size_t i = s_skip_space(text, 0, len);
    while (i < len) {
        if (ln->ntok + 1 == max_tok) {
            // Last slot and more than one token left: fold the tail into one
            // variable, so a long list still lands in a bounded template.
            size_t end = i;
            while (end < len && !s_is_space((unsigned char)text[end]))
                end++;
            if (s_skip_space(text, end, len) < len) {
                memcpy(ln->buf + w, S_WILD, S_WILD_LEN);
                s_push_token(ln, w, S_WILD_LEN);
                break;
            }
        }
        size_t start = i;
        while (i < len && !s_is_space((unsigned char)text[i]))
            i++;
        bool after_value =
            ln->ntok > 0 && ln->hash[ln->ntok - 1] == S_WILD_HASH;
        uint32_t n = (uint32_t)s_mask_token(text + start, i - start,
                                            ln->buf + w, after_value);
        s_push_token(ln, w, n);
        w += n;
        i = s_skip_space(text, i, len);
    }
    s_mask_context(ln);
    s_fold_runs(ln);
    ln->leaf = s_leaf_key(ln);
}

//  --------------------------------------------------------------------------
//  id -> slot table: linear probing, deletion by backward shift, so lookups
//  never degrade with churn (no tombstones).

static size_t
s_id_home(const healer_templates_t *self, uint32_t id)
{
    return (size_t)(id * UINT32_C(2654435761)) & self->id_mask;
}

static size_t
s_id_pos(const healer_templates_t *self, uint32_t id)
{
    size_t i = s_id_home(self, id);
    while (self->id_keys[i] != id && self->id_keys[i] != HEALER_TEMPLATES_NONE)
        i = (i + 1) & self->id_mask;
    return i;
}

static uint32_t
s_id_find(const healer_templates_t *self, uint32_t id)
{
    if (id == HEALER_TEMPLATES_NONE)
        return S_NO_SLOT;
    size_t i = s_id_pos(self, id);
    return self->id_keys[i] == id ? self->id_slots[i] : S_NO_SLOT;
}

static void
s_id_put(healer_templates_t *self, uint32_t id, uint32_t slot)
{
    size_t i = s_id_pos(self, id);
    self->id_keys[i] = id;
    self->id_slots[i] = slot;
}

static void
s_id_del(healer_templates_t *self, uint32_t id)
{
    size_t i = s_id_pos(self, id);
    if (self->id_keys[i] != id)
        return;
    size_t j = i;
    for (;;) {
        j = (j + 1) & self->id_mask;
        uint32_t key = self->id_keys[j];
        if (key == HEALER_TEMPLATES_NONE)
            break;
        size_t k = s_id_home(self, key);
        // An entry may fill the hole only if its home is not between the
        // hole and its position, or a lookup for it would stop early.
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        self->id_keys[i] = key;
        self->id_slots[i] = self->id_slots[j];
        i = j;
    }
    self->id_keys[i] = HEALER_TEMPLATES_NONE;
}

// Hand out an id no live group holds; after 2^32 - 1 ids they wrap around.
static uint32_t
s_id_next(healer_templates_t *self)
{
    for (;;) {
        uint32_t id = self->next_id++;
        if (self->next_id == HEALER_TEMPLATES_NONE)
            self->next_id = 0;
        if (s_id_find(self, id) == S_NO_SLOT)
            return id;
    }
}

//  --------------------------------------------------------------------------
//  LRU list and leaf buckets

static void
s_lru_unlink(healer_templates_t *self, uint32_t slot)
{
    group_t *g = &self->groups[slot];
    if (g->newer != S_NO_SLOT)
        self->groups[g->newer].older = g->older;
    else
        self->newest = g->older;
    if (g->older != S_NO_SLOT)
        self->groups[g->older].newer = g->newer;
    else
        self->oldest = g->newer;
    g->newer = g->older = S_NO_SLOT;
}

static void
s_lru_push(healer_templates_t *self, uint32_t slot)
{
    group_t *g = &self->groups[slot];
    g->newer = S_NO_SLOT;
    g->older = self->newest;
    if (self->newest != S_NO_SLOT)
        self->groups[self->newest].newer = slot;
    self->newest = slot;
    if (self->oldest == S_NO_SLOT)
        self->oldest = slot;
}

static void
s_lru_touch(healer_templates_t *self, uint32_t slot)
{
    if (self->newest == slot)
        return;
    s_lru_unlink(self, slot);
    s_lru_push(self, slot);
}

static void
s_bucket_unlink(healer_templates_t *self, uint32_t slot)
{
    uint32_t *link =
        &self->buckets[self->groups[slot].leaf & self->bucket_mask];
    while (*link != slot) {
        assert(*link != S_NO_SLOT);
        link = &self->groups[*link].next;
    }
    *link = self->groups[slot].next;
}

static void
s_bucket_push(healer_templates_t *self, uint32_t slot)
{
    uint32_t *head =
        &self->buckets[self->groups[slot].leaf & self->bucket_mask];
    self->groups[slot].next = *head;
    *head = slot;
}

//  --------------------------------------------------------------------------
//  Groups

// Take the group out of every index; its memory stays for the next tenant.
static void
s_group_retire(healer_templates_t *self, uint32_t slot)
{
    group_t *g = &self->groups[slot];
    s_bucket_unlink(self, slot);
    s_lru_unlink(self, slot);
    s_id_del(self, g->id);
    g->id = HEALER_TEMPLATES_NONE;
    self->live--;
}

// A slot for a new group: a never used one, else the least recently used.
static uint32_t
s_slot_take(healer_templates_t *self)
{
    if (self->free_head != S_NO_SLOT) {
        uint32_t slot = self->free_head;
        self->free_head = self->groups[slot].next;
        return slot;
    }
    if (self->used < self->cfg.max_groups)
        return self->used++;
    uint32_t slot = self->oldest;
    s_group_retire(self, slot);
    self->evictions++;
    return slot;
}

// Render line tokens, or a template's tokens, joined by single spaces.
static size_t
s_render_line(const line_t *ln, char *out)
{
    size_t w = 0;
    for (uint32_t i = 0; i < ln->ntok; i++) {
        if (i > 0)
            out[w++] = ' ';
        memcpy(out + w, ln->ptr[i], ln->len[i]);
        w += ln->len[i];
    }
    out[w] = '\0';
    return w;
}

// Store `ntok` hashes and `text` in the group's block, growing it only when
// too small: a full table recycles blocks, so churn does not mean malloc.
static int
s_group_store(group_t *g, const uint64_t *tok, uint32_t ntok, const char *text,
              size_t text_len)
{
    size_t need = ntok * sizeof(uint64_t) + text_len + 1;
    if (need > g->mem_cap) {
        uint64_t *mem = malloc(need);
        if (!mem)
            return -1;
        memcpy(mem, tok, ntok * sizeof(uint64_t)); // tok may be g->tok
        free(g->tok);
        g->tok = mem;
        g->mem_cap = need;
    } else {
        memmove(g->tok, tok, ntok * sizeof(uint64_t));
    }
    g->ntok = ntok;
    g->text = (char *)(g->tok + ntok);
    memcpy(g->text, text, text_len + 1);
    return 0;
}

// Start a group for self->line. Returns its slot, or S_NO_SLOT without memory.
static uint32_t
s_group_create(healer_templates_t *self)
{
    const line_t *ln = &self->line;
    uint32_t slot = s_slot_take(self);
    group_t *g = &self->groups[slot];
    size_t text_len = s_render_line(ln, self->render);
    if (s_group_store(g, ln->hash, ln->ntok, self->render, text_len) != 0) {
        g->next = self->free_head; // keep the slot for the next try
        self->free_head = slot;
        return S_NO_SLOT;
    }
    g->id = s_id_next(self);
    g->leaf = ln->leaf;
    g->hits = 0;
    s_id_put(self, g->id, slot);
    s_bucket_push(self, slot);
    s_lru_push(self, slot);
    self->live++;
    return slot;
}

// Share of the template's tokens that the line repeats exactly ("<*>" only
// matches "<*>"). A "<*>" that generalising put in the template does not
// match a word, or every merge would make the template easier to join and
// it would swallow unrelated events (the snowball Drain avoids the same way).
static double
s_similarity(const group_t *g, const line_t *ln)
{
    if (g->ntok == 0)
        return 1.0;
    uint32_t same = 0;
    for (uint32_t i = 0; i < g->ntok; i++)
        same += g->tok[i] == ln->hash[i];
    return (double)same / g->ntok;
}

static uint32_t
s_best_match(const healer_templates_t *self)
{
    const line_t *ln = &self->line;
    uint32_t best = S_NO_SLOT;
    double best_sim = -1.0;
    uint32_t slot = self->buckets[ln->leaf & self->bucket_mask];
    for (; slot != S_NO_SLOT; slot = self->groups[slot].next) {
        const group_t *g = &self->groups[slot];
        if (g->leaf != ln->leaf || g->ntok != ln->ntok)
            continue;
        double sim = s_similarity(g, ln);
        if (sim > best_sim) {
            best_sim = sim;
            best = slot;
        }
    }
    return best_sim >= self->cfg.similarity ? best : S_NO_SLOT;
}

// Turn into "<*>" every template token the line disagrees with. The new
// hashes are built aside so a failed allocation leaves the group as it was.
static int
s_generalise(healer_templates_t *self, uint32_t slot)
{
    group_t *g = &self->groups[slot];
    const line_t *ln = &self->line;
    uint32_t i = 0;
    while (i < g->ntok &&
           (g->tok[i] == ln->hash[i] || g->tok[i] == S_WILD_HASH))
        i++;
    if (i == g->ntok)
        return 0; // the common case: the line fits the template as it is
    size_t w = 0;
    const char *t = g->text;
    for (i = 0; i < g->ntok; i++) {
        const char *end = strchr(t, ' ');
        size_t n = end ? (size_t)(end - t) : strlen(t);
        bool keep = g->tok[i] == ln->hash[i] || g->tok[i] == S_WILD_HASH;
        if (i > 0)
            self->render[w++] = ' ';
        memcpy(self->render + w, keep ? t : S_WILD, keep ? n : S_WILD_LEN);
        w += keep ? n : S_WILD_LEN;
        self->gen_tok[i] = keep ? g->tok[i] : S_WILD_HASH;
        t += n + (end != NULL);
    }
    self->render[w] = '\0';
    return s_group_store(g, self->gen_tok, g->ntok, self->render, w);
}

uint32_t
healer_templates_add(healer_templates_t *self, const char *text, size_t len)
{
    assert(self);
    assert(text || len == 0);
    s_tokenize(self, text ? text : "", len, self->cfg.max_line_bytes);
    uint32_t slot = s_best_match(self);
    if (slot == S_NO_SLOT)
        slot = s_group_create(self);
    else if (s_generalise(self, slot) != 0)
        return HEALER_TEMPLATES_NONE; // the old template is still intact
    if (slot == S_NO_SLOT)
        return HEALER_TEMPLATES_NONE;
    group_t *g = &self->groups[slot];
    g->hits++;
    s_lru_touch(self, slot);
    return g->id;
}

//  --------------------------------------------------------------------------
//  Lifecycle and lookups

static int
s_cfg_resolve(const healer_templates_cfg_t *in, healer_templates_cfg_t *out)
{
    healer_templates_cfg_t cfg = {0};
    if (in)
        cfg = *in;
    if (cfg.max_groups == 0)
        cfg.max_groups = HEALER_TEMPLATES_MAX_GROUPS;
    if (cfg.max_tokens == 0)
        cfg.max_tokens = HEALER_TEMPLATES_MAX_TOKENS;
    if (cfg.max_line_bytes == 0)
        cfg.max_line_bytes = HEALER_TEMPLATES_MAX_LINE_BYTES;
    if (cfg.similarity == 0.0)
        cfg.similarity = HEALER_TEMPLATES_SIMILARITY;
    if (cfg.max_groups > HEALER_TEMPLATES_GROUPS_CEILING ||
        cfg.max_tokens > HEALER_TEMPLATES_TOKENS_CEILING ||
        cfg.max_line_bytes > HEALER_TEMPLATES_LINE_CEILING ||
        !(cfg.similarity > 0.0 && cfg.similarity <= 1.0))
        return -1;
    *out = cfg;
    return 0;
}

static int
s_alloc_tables(healer_templates_t *self)
{
    const healer_templates_cfg_t *cfg = &self->cfg;
    // Loading re-tokenises saved templates, which may be up to S_TEXT_CAP
    // long, so the line scratch is sized for that, not for max_line_bytes.
    size_t text_cap = S_TEXT_CAP(cfg->max_line_bytes);
    self->groups = calloc(cfg->max_groups, sizeof *self->groups);
    self->bucket_mask = s_pow2_at_least(2 * cfg->max_groups) - 1;
    self->buckets = malloc((self->bucket_mask + 1) * sizeof(uint32_t));
    self->id_mask = s_pow2_at_least(2 * cfg->max_groups) - 1;
    self->id_keys = malloc((self->id_mask + 1) * sizeof(uint32_t));
    self->id_slots = malloc((self->id_mask + 1) * sizeof(uint32_t));
    self->line.buf = malloc(3 * text_cap + S_WILD_LEN);
    self->line.ptr = malloc(cfg->max_tokens * sizeof(const char *));
    self->line.len = malloc(cfg->max_tokens * sizeof(uint32_t));
    self->line.hash = malloc(cfg->max_tokens * sizeof(uint64_t));
    self->gen_tok = malloc(cfg->max_tokens * sizeof(uint64_t));
    self->render = malloc(3 * text_cap + cfg->max_tokens + S_WILD_LEN + 1);
    if (!self->groups || !self->buckets || !self->id_keys || !self->id_slots ||
        !self->line.buf || !self->line.ptr || !self->line.len ||
        !self->line.hash || !self->gen_tok || !self->render)
        return -1;
    memset(self->buckets, 0xff, (self->bucket_mask + 1) * sizeof(uint32_t));
    memset(self->id_keys, 0xff, (self->id_mask + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < cfg->max_groups; i++)
        self->groups[i].id = HEALER_TEMPLATES_NONE;
    return 0;
}

healer_templates_t *
healer_templates_new(const healer_templates_cfg_t *cfg)
{
    healer_templates_cfg_t resolved;
    if (s_cfg_resolve(cfg, &resolved) != 0)
        return NULL;
    healer_templates_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = resolved;
    self->newest = self->oldest = self->free_head = S_NO_SLOT;
    if (s_alloc_tables(self) != 0)
        healer_templates_destroy(&self);
    return self;
}

void
healer_templates_destroy(healer_templates_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    healer_templates_t *self = *self_p;
    for (size_t i = 0; self->groups && i < self->used; i++)
        free(self->groups[i].tok);
    free(self->groups);
    free(self->buckets);
    free(self->id_keys);
    free(self->id_slots);
    free(self->line.buf);
    free(self->line.ptr);
    free(self->line.len);
    free(self->line.hash);
    free(self->gen_tok);
    free(self->render);
    free(self);
    *self_p = NULL;
}

const char *
healer_templates_template(const healer_templates_t *self, uint32_t id)
{
    assert(self);
    uint32_t slot = s_id_find(self, id);
    return slot == S_NO_SLOT ? NULL : self->groups[slot].text;
}

uint64_t
healer_templates_hits(const healer_templates_t *self, uint32_t id)
{
    assert(self);
    uint32_t slot = s_id_find(self, id);
    return slot == S_NO_SLOT ? 0 : self->groups[slot].hits;
}

size_t
healer_templates_count(const healer_templates_t *self)
{
    assert(self);
    return self->live;
}

uint64_t
healer_templates_evictions(const healer_templates_t *self)
{
    assert(self);
    return self->evictions;
}

//  --------------------------------------------------------------------------
//  Persistence: a header line, then "<id>\t<hits>\t<template>" per group,
//  least recently used first so that loading in order restores the LRU order.

int
healer_templates_save(const healer_templates_t *self, FILE *out)
{
    assert(self);
    assert(out);
    if (fprintf(out, "%s\n", S_FILE_HEADER) < 0)
        return -1;
    for (uint32_t slot = self->oldest; slot != S_NO_SLOT;
         slot = self->groups[slot].newer) {
        const group_t *g = &self->groups[slot];
        if (fprintf(out, "%lu\t%llu\t%s\n", (unsigned long)g->id,
                    (unsigned long long)g->hits, g->text) < 0)
            return -1;
    }
    return fflush(out) == 0 ? 0 : -1;
}

typedef enum {
    S_READ_LINE,
    S_READ_EOF,
    S_READ_TOO_LONG,
    S_READ_NUL,
    S_READ_NO_NEWLINE,
    S_READ_ERROR,
} s_read_t;

// Read one '\n'-terminated line into buf (cap bytes, NUL added, '\n' not
// kept). Lines are untrusted: length and NULs are checked as bytes arrive.
static s_read_t
s_read_line(FILE *in, char *buf, size_t cap, size_t *len_p)
{
    size_t len = 0;
    int c;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (c == '\0')
            return S_READ_NUL;
        if (len + 1 >= cap)
            return S_READ_TOO_LONG;
        buf[len++] = (char)c;
    }
    buf[len] = '\0';
    *len_p = len;
    if (c == '\n')
        return S_READ_LINE;
    if (ferror(in))
        return S_READ_ERROR;
    return len == 0 ? S_READ_EOF : S_READ_NO_NEWLINE;
}

// Strict unsigned decimal: digits only, no sign, no space, no overflow.
static int
s_parse_u64(const char *p, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static size_t
s_count_tokens(const char *p, size_t n)
{
    size_t count = 0;
    for (size_t i = s_skip_space(p, 0, n); i < n; i = s_skip_space(p, i, n)) {
        count++;
        while (i < n && !s_is_space((unsigned char)p[i]))
            i++;
    }
    return count;
}

typedef struct {
    uint32_t id;
    uint64_t hits;
    const char *text; // borrowed from the line buffer
    size_t text_len;
} s_record_t;

// Split and check one record; returns NULL or what is wrong with it.
static const char *
s_parse_record(const healer_templates_t *self, const char *line, size_t len,
               s_record_t *rec)
{
    const char *tab1 = memchr(line, '\t', len);
    const char *tab2 =
        tab1 ? memchr(tab1 + 1, '\t', len - (size_t)(tab1 + 1 - line)) : NULL;
    if (!tab2)
        return "expected <id>\\t<hits>\\t<template>";
    uint64_t v;
    if (s_parse_u64(line, (size_t)(tab1 - line), HEALER_TEMPLATES_NONE - 1, &v))
        return "bad id";
    rec->id = (uint32_t)v;
    if (s_parse_u64(tab1 + 1, (size_t)(tab2 - tab1 - 1), UINT64_MAX,
                    &rec->hits))
        return "bad hit count";
    rec->text = tab2 + 1;
    rec->text_len = len - (size_t)(rec->text - line);
    for (size_t i = 0; i < rec->text_len; i++) {
        unsigned char c = (unsigned char)rec->text[i];
        if (c < ' ' || c == 0x7f)
            return "control byte in template";
    }
    if (rec->text_len > S_TEXT_CAP(self->cfg.max_line_bytes))
        return "template too long";
    if (s_count_tokens(rec->text, rec->text_len) > self->cfg.max_tokens)
        return "too many tokens";
    return NULL;
}

// Install a checked record as a group (the caller made sure there is room).
static int
s_install(healer_templates_t *self, const s_record_t *rec)
{
    s_tokenize(self, rec->text, rec->text_len,
               S_TEXT_CAP(self->cfg.max_line_bytes));
    uint32_t slot = s_group_create(self);
    if (slot == S_NO_SLOT)
        return -1;
    group_t *g = &self->groups[slot];
    s_id_del(self, g->id); // swap the fresh id for the saved one
    g->id = rec->id;
    g->hits = rec->hits;
    s_id_put(self, g->id, slot);
    return 0;
}

static const char *
s_read_problem(s_read_t r)
{
    switch (r) {
    case S_READ_TOO_LONG:
        return "line too long";
    case S_READ_NUL:
        return "NUL byte";
    case S_READ_NO_NEWLINE:
        return "truncated (no final newline)";
    default:
        return "read error";
    }
}

// Read the records after the header; returns 0 or -1 with err filled in.
static int
s_load_records(healer_templates_t *self, FILE *in, char *buf, size_t cap,
               char *err, size_t errlen)
{
    uint64_t max_id = 0;
    bool any = false;
    for (unsigned long lineno = 2;; lineno++) {
        size_t len;
        s_read_t r = s_read_line(in, buf, cap, &len);
        if (r == S_READ_EOF)
            break;
        const char *why = r == S_READ_LINE ? NULL : s_read_problem(r);
        s_record_t rec;
        if (!why)
            why = s_parse_record(self, buf, len, &rec);
        if (!why && s_id_find(self, rec.id) != S_NO_SLOT) {
            snprintf(err, errlen, "line %lu: duplicate id %lu", lineno,
                     (unsigned long)rec.id);
            return -1;
        }
        if (!why && self->live == self->cfg.max_groups)
            why = "more templates than max_groups";
        if (!why && s_install(self, &rec) != 0)
            why = "out of memory";
        if (why) {
            snprintf(err, errlen, "line %lu: %s", lineno, why);
            return -1;
        }
        max_id = rec.id > max_id || !any ? rec.id : max_id;
        any = true;
    }
    self->next_id = any ? (uint32_t)(max_id + 1) : 0;
    if (self->next_id == HEALER_TEMPLATES_NONE)
        self->next_id = 0;
    return 0;
}

healer_templates_t *
healer_templates_load(FILE *in, const healer_templates_cfg_t *cfg, char *err,
                      size_t errlen)
{
    assert(in);
    char dummy[1];
    if (!err || errlen == 0) { // callers may not care why; we still need room
        err = dummy;
        errlen = sizeof dummy;
    }
    healer_templates_t *self = healer_templates_new(cfg);
    if (!self) {
        snprintf(err, errlen, "bad config or out of memory");
        return NULL;
    }
    // Record = id, hits, template and two tabs: bounded by the template cap.
    size_t cap = S_TEXT_CAP(self->cfg.max_line_bytes) + 48;
    char *buf = malloc(cap);
    size_t len;
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        healer_templates_destroy(&self);
    } else if (s_read_line(in, buf, cap, &len) != S_READ_LINE ||
               strcmp(buf, S_FILE_HEADER) != 0) {
        snprintf(err, errlen, "line 1: not a healbus templates file");
        healer_templates_destroy(&self);
    } else if (s_load_records(self, in, buf, cap, err, errlen) != 0) {
        healer_templates_destroy(&self);
    }
    free(buf);
    return self;
}
