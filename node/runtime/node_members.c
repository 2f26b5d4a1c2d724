/*  node_members.c - live peers and rendezvous ownership (node_members.h).

    The table is a small array (a role has a handful of nodes); ownership
    scores every live member, O(members) per question, no allocation. */

#include "node_members.h"

#include "proto_limits.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char id[PROTO_MAX_ID + 1];
    int64_t last_ms;
} s_peer_t;

struct node_members {
    char self_id[PROTO_MAX_ID + 1];
    int64_t ttl_ms;
    s_peer_t peers[NODE_MEMBERS_MAX];
    size_t n_peers;
};

node_members_t *
node_members_new(const char *self_id, int64_t ttl_ms)
{
    if (!self_id || !*self_id || strlen(self_id) > PROTO_MAX_ID)
        return NULL;
    node_members_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->self_id, sizeof self->self_id, "%s", self_id);
    self->ttl_ms = ttl_ms;
    return self;
}

void
node_members_destroy(node_members_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void
node_members_seen(node_members_t *self, const char *id, int64_t now_ms)
{
    if (!id || !*id || strlen(id) > PROTO_MAX_ID ||
        strcmp(id, self->self_id) == 0)
        return;
    for (size_t i = 0; i < self->n_peers; i++) {
        if (strcmp(self->peers[i].id, id) == 0) {
            self->peers[i].last_ms = now_ms;
            return;
        }
    }
    if (self->n_peers == NODE_MEMBERS_MAX &&
        node_members_expire(self, now_ms) == NODE_MEMBERS_MAX)
        return;
    s_peer_t *p = &self->peers[self->n_peers++];
    snprintf(p->id, sizeof p->id, "%s", id);
    p->last_ms = now_ms;
}

size_t
node_members_expire(node_members_t *self, int64_t now_ms)
{
    size_t out = 0;
    for (size_t i = 0; i < self->n_peers; i++)
        if (now_ms - self->peers[i].last_ms <= self->ttl_ms)
            self->peers[out++] = self->peers[i];
    self->n_peers = out;
    return out;
}

//  64-bit FNV-1a over "member\0agent", then a strong finaliser so close
//  ids ("healer-1", "healer-2") give unrelated scores.
static uint64_t
s_score(const char *member, const char *agent)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)member; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    h = (h ^ 0xffu) * 0x100000001b3ULL; // separator no id can contain
    for (const unsigned char *p = (const unsigned char *)agent; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

//  Higher score wins; equal scores (astronomically rare) go to the smaller
//  id, so every node still picks the same owner.
static bool
s_beats(uint64_t score, const char *id, uint64_t best, const char *best_id)
{
    return score > best || (score == best && strcmp(id, best_id) < 0);
}

const char *
node_members_owner(node_members_t *self, const char *agent, int64_t now_ms)
{
    node_members_expire(self, now_ms);
    const char *best_id = self->self_id;
    uint64_t best = s_score(self->self_id, agent);
    for (size_t i = 0; i < self->n_peers; i++) {
        uint64_t score = s_score(self->peers[i].id, agent);
        if (s_beats(score, self->peers[i].id, best, best_id)) {
            best = score;
            best_id = self->peers[i].id;
        }
    }
    return best_id;
}

bool
node_members_owns(node_members_t *self, const char *agent, int64_t now_ms)
{
    return node_members_owner(self, agent, now_ms) == self->self_id;
}
