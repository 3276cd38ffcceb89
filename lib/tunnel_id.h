/* tunnel_id.h - tunnel ids: 12 characters of [a-z0-9], uniform, from the OS CSPRNG. */
#ifndef TUNNEL_ID_H
#define TUNNEL_ID_H

#include <stdbool.h>
#include <stddef.h>

#define TUNNEL_ID_LEN 12

/* Fills out[TUNNEL_ID_LEN+1] with a fresh id (getrandom + rejection sampling). 0 or -1. */
int tunnel_id_generate(char out[TUNNEL_ID_LEN + 1]);
/* True when s[0..n) is exactly 12 characters of [a-z0-9]. */
bool tunnel_id_valid(const char *s, size_t n);

#endif
