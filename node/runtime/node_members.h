/*  node_members.h - the live nodes of one role, and who owns which agent.

    Nodes of a role share the work: each learns its live peers from their
    `node.<id>` heartbeats (alive while one was seen within `ttl_ms`) and
    gives every agent to exactly one live member by rendezvous hashing
    (highest random weight): each member scores hash(member, agent) and the
    highest score owns the agent.  All members compute the same answer from
    the same view, and when a member dies only the agents it owned move.
    Until a peer's heartbeat arrives a node believes it is alone, so two
    nodes started together may both act for a heartbeat interval. */

#ifndef NODE_MEMBERS_H
#define NODE_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODE_MEMBERS_MAX 256 // peers tracked per role

typedef struct node_members node_members_t;

/*  Members of one role as seen by node `self_id` (copied); NULL when out
    of memory or self_id is empty.  Caller destroys. */
node_members_t *node_members_new(const char *self_id, int64_t ttl_ms);
void node_members_destroy(node_members_t **self_p);

/*  A heartbeat from peer `id` at monotonic `now_ms`.  Ignored when the
    table is full of live peers (a new peer is counted once it fits). */
void node_members_seen(node_members_t *self, const char *id, int64_t now_ms);

/*  Forget peers not seen within the ttl; returns how many are alive
    (peers only, self not included). */
size_t node_members_expire(node_members_t *self, int64_t now_ms);

/*  True when this node owns `agent` among the members alive at `now_ms`. */
bool node_members_owns(node_members_t *self, const char *agent, int64_t now_ms);

/*  The live member (possibly self) that owns `agent` (borrowed). */
const char *node_members_owner(node_members_t *self, const char *agent,
                               int64_t now_ms);

#endif
