/* SPDX-License-Identifier: MIT */
/* tunnel_id.h - tunnel names: random ids (12 characters of [a-z0-9], uniform, from the OS CSPRNG)
 * and names chosen with `ttf --subdomain` (one DNS label). Both live in one namespace: a random
 * id is just a name nobody chose. Shared by ttfd, ttf and the Lambda so all three agree.
 * Owns nothing: pure functions over the caller's buffers (and the OS CSPRNG for new ids). */
#ifndef TUNNEL_ID_H
#define TUNNEL_ID_H

#include <stdbool.h>
#include <stddef.h>

#define TUNNEL_ID_LEN 12   /* random ids */
#define TUNNEL_NAME_MAX 63 /* any name: one DNS label (RFC 1035 §2.3.4) */

/* Fills out[TUNNEL_ID_LEN+1] with a fresh id (getrandom + rejection sampling). 0 or -1. */
int tunnel_id_generate(char out[TUNNEL_ID_LEN + 1]);
/* True when s[0..n) is exactly 12 characters of [a-z0-9]. */
bool tunnel_id_valid(const char *s, size_t n);

/* True when s[0..n) is a name as it travels and is stored: 1-63 characters of [a-z0-9-]
 * (lower case only), no leading or trailing hyphen (RFC 1035 §2.3.1 / RFC 1123 §2.1 label).
 * Reserved names are valid names (see tunnel_name_reserved). */
bool tunnel_name_valid(const char *s, size_t n);
/* True for names nobody may choose: service words (www, api, admin, ...; the list is in
 * docs/protocol.md §1) and IDNA A-labels ("xn--...", which browsers show as other scripts). */
bool tunnel_name_reserved(const char *s, size_t n);
/* Checks a name a user asked for (--subdomain): lower-cases it into out and applies the label
 * rules and the reserved list. 0, or -1 with a one-line reason in *why (static string). */
int tunnel_name_normalize(const char *in, char out[TUNNEL_NAME_MAX + 1], const char **why);

/* Who owns a name (ttfd's state and the Lambda's owner records store this string):
 * "sub:<subject>" with auth; else "key:<hex SHA-256 of agent_key>" when the agent sent a key (the
 * key itself is never stored); else "" (nobody: the name is free once its agent is gone).
 * 0, or -1 when it does not fit in cap (TUNNEL_OWNER_MAX + 1 holds any). */
#define TUNNEL_OWNER_MAX 300
int tunnel_owner(char *out, size_t cap, bool auth_on, const char *sub, const char *agent_key);

#endif
