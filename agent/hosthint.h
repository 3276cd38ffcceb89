/* SPDX-License-Identifier: MIT */
/* hosthint.h - a hint for the mistake ngrok's users meet first: a development server that checks
 * the Host header (webpack-dev-server's and Angular's "Invalid Host header", Vite's "Blocked
 * request. This host (...) is not allowed", Rails' "Blocked hosts", Django's DisallowedHost)
 * refuses the public name the tunnel passes on (--host-header preserve, the default, as ngrok's).
 * An exchange observer (observer.h): a 400, 403 or 421 whose body begins with such a refusal, in
 * a tunnel that preserves Host, logs once per tunnel a warning naming `--host-header rewrite`
 * (ngrok's --host-header=rewrite) and the Host it would send.
 * Owns: its per-exchange states (at most HOSTHINT_BODY_MAX bytes of a body each, kept on a spare
 * list) and the per-tunnel "said" flags; borrows the config and the log, which outlive it. */
#ifndef TTF_HOSTHINT_H
#define TTF_HOSTHINT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "log.h"
#include "observer.h"

#define HOSTHINT_BODY_MAX 1024 /* Django's debug page names DisallowedHost in its <title> */

typedef struct hosthint hosthint;

hosthint *hosthint_new(const agent_config *cfg, const tlog *lg); /* NULL on ENOMEM */
void hosthint_free(hosthint *h);
exchange_observer hosthint_observer(hosthint *h);

/* True when a response with this status whose body begins with body[0..len) is a server's
 * refusal of the Host header (the phrases above, case-insensitive). */
bool hosthint_is_refusal(int status, const char *body, size_t len);

#endif
