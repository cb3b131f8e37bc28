/* cmd_pubsub.c - the pub/sub commands (pubsub_commands table): SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE
 * PUNSUBSCRIBE PUBLISH PUBSUB SSUBSCRIBE SUNSUBSCRIBE SPUBLISH, with Redis 7.0's replies and
 * errors (standalone: shard channels are a separate namespace, SPUBLISH reaches SSUBSCRIBE
 * only). The state and the delivery are pubsub.c's. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "command.h"
#include "pubsub.h"

static void cmd_subscribe(client *c) {
    /* a client that cannot block (a script) cannot subscribe either; a transaction can, for
     * backward compatibility (Redis 7.0) */
    if ((c->flags & CLIENT_DENY_BLOCKING) && !(c->flags & CLIENT_EXECUTING)) {
        reply_error(c, "ERR SUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    for (int j = 1; j < c->argc; j++)
        if (pubsub_subscribe(c, c->argv[j].ptr, c->argv[j].len, PUBSUB_GLOBAL) < 0) break;
}

static void cmd_ssubscribe(client *c) {
    /* Redis denies it to a client that cannot block, which includes a transaction (unlike
     * SUBSCRIBE, allowed there for backward compatibility) */
    if (c->flags & (CLIENT_EXECUTING | CLIENT_DENY_BLOCKING)) {
        reply_error(c, "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    for (int j = 1; j < c->argc; j++)
        if (pubsub_subscribe(c, c->argv[j].ptr, c->argv[j].len, PUBSUB_SHARD) < 0) break;
}

static void unsubscribe_generic(client *c, int kind) {
    if (c->argc == 1) {
        pubsub_unsubscribe_all(c, kind, 1);
    } else {
        for (int j = 1; j < c->argc; j++) pubsub_unsubscribe(c, c->argv[j].ptr, c->argv[j].len, kind, 1);
    }
    pubsub_update_mode(c);
}

static void cmd_unsubscribe(client *c) { unsubscribe_generic(c, PUBSUB_GLOBAL); }
static void cmd_sunsubscribe(client *c) { unsubscribe_generic(c, PUBSUB_SHARD); }

static void cmd_psubscribe(client *c) {
    if ((c->flags & CLIENT_DENY_BLOCKING) && !(c->flags & CLIENT_EXECUTING)) {
        reply_error(c, "ERR PSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    for (int j = 1; j < c->argc; j++)
        if (pubsub_psubscribe(c, c->argv[j].ptr, c->argv[j].len) < 0) break;
}

static void cmd_punsubscribe(client *c) {
    if (c->argc == 1) {
        pubsub_punsubscribe_all(c, 1);
    } else {
        for (int j = 1; j < c->argc; j++) pubsub_punsubscribe(c, c->argv[j].ptr, c->argv[j].len, 1);
    }
    pubsub_update_mode(c);
}

static void cmd_publish(client *c) {
    reply_int(c, pubsub_publish(c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr, c->argv[2].len,
                                PUBSUB_GLOBAL));
}

static void cmd_spublish(client *c) {
    reply_int(c, pubsub_publish(c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr, c->argv[2].len,
                                PUBSUB_SHARD));
}

/* ---- PUBSUB <subcommand> ------------------------------------------------------------------ */

/* "unknown subcommand or wrong number of arguments for 'x'. Try PUBSUB HELP." */
static void subcommand_syntax_error(client *c) {
    char up[32];
    size_t i;
    for (i = 0; i + 1 < sizeof(up) && c->argv[0].ptr[i]; i++) up[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
    up[i] = 0;
    reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try %s HELP.",
                 c->argv[1].ptr, up);
}

static void pubsub_channels_generic(client *c, int kind) {
    if (c->argc > 3) {
        subcommand_syntax_error(c);
        return;
    }
    if (c->argc == 3) pubsub_reply_channels(c, c->argv[2].ptr, c->argv[2].len, kind);
    else pubsub_reply_channels(c, NULL, 0, kind);
}

static void pubsub_numsub_generic(client *c, int kind) {
    reply_array(c, (long)(c->argc - 2) * 2);
    for (int j = 2; j < c->argc; j++) {
        reply_bulk(c, c->argv[j].ptr, c->argv[j].len);
        reply_int(c, pubsub_numsub(c->argv[j].ptr, c->argv[j].len, kind));
    }
}

static void pubsub_channels_cmd(client *c) { pubsub_channels_generic(c, PUBSUB_GLOBAL); }
static void pubsub_shardchannels_cmd(client *c) { pubsub_channels_generic(c, PUBSUB_SHARD); }
static void pubsub_numsub_cmd(client *c) { pubsub_numsub_generic(c, PUBSUB_GLOBAL); }
static void pubsub_shardnumsub_cmd(client *c) { pubsub_numsub_generic(c, PUBSUB_SHARD); }
static void pubsub_numpat_cmd(client *c) { reply_int(c, pubsub_pattern_count()); }

static void pubsub_help_cmd(client *c) {
    static const char *const lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++) reply_simple(c, lines[i]);
}

/* ---- table -------------------------------------------------------------------------------- */

#define PS CMD_PUBSUB
#define NS CMD_NOSCRIPT
#define LS (CMD_LOADING | CMD_STALE)

/* In the order Redis 7.0's COMMAND INFO pubsub lists them. */
static const struct command pubsub_subcommands[] = {
    {"numsub", pubsub_numsub_cmd, -2, PS | LS, 0, 0, 0, "pubsub", "Returns a count of subscribers to channels.", "2.8.0", "[channel [channel ...]]", NULL},
    {"shardchannels", pubsub_shardchannels_cmd, -2, PS | LS, 0, 0, 0, "pubsub", "Returns the active shard channels.", "7.0.0", "[pattern]", NULL},
    {"shardnumsub", pubsub_shardnumsub_cmd, -2, PS | LS, 0, 0, 0, "pubsub", "Returns the count of subscribers of shard channels.", "7.0.0", "[shardchannel [shardchannel ...]]", NULL},
    {"numpat", pubsub_numpat_cmd, 2, PS | LS, 0, 0, 0, "pubsub", "Returns a count of unique pattern subscriptions.", "2.8.0", "", NULL},
    {"channels", pubsub_channels_cmd, -2, PS | LS, 0, 0, 0, "pubsub", "Returns the active channels.", "2.8.0", "[pattern]", NULL},
    {"help", pubsub_help_cmd, 2, LS, 0, 0, 0, "pubsub", "Returns helpful text about the different subcommands.", "6.2.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const struct command pubsub_commands[] = {
    {"subscribe", cmd_subscribe, -2, PS | NS | LS, 0, 0, 0, "pubsub", "Listens for messages published to channels.", "2.0.0", "channel [channel ...]", NULL},
    {"unsubscribe", cmd_unsubscribe, -1, PS | NS | LS, 0, 0, 0, "pubsub", "Stops listening to messages posted to channels.", "2.0.0", "[channel [channel ...]]", NULL},
    {"psubscribe", cmd_psubscribe, -2, PS | NS | LS, 0, 0, 0, "pubsub", "Listens for messages published to channels that match one or more patterns.", "2.0.0", "pattern [pattern ...]", NULL},
    {"punsubscribe", cmd_punsubscribe, -1, PS | NS | LS, 0, 0, 0, "pubsub", "Stops listening to messages published to channels that match one or more patterns.", "2.0.0", "[pattern [pattern ...]]", NULL},
    {"publish", cmd_publish, 3, PS | LS | CMD_FAST, 0, 0, 0, "pubsub", "Posts a message to a channel.", "2.0.0", "channel message", NULL},
    {"pubsub", NULL, -2, 0, 0, 0, 0, "pubsub", "A container for Pub/Sub commands.", "2.8.0", "", pubsub_subcommands},
    {"ssubscribe", cmd_ssubscribe, -2, PS | NS | LS, 1, -1, 1, "pubsub", "Listens for messages published to shard channels.", "7.0.0", "shardchannel [shardchannel ...]", NULL},
    {"sunsubscribe", cmd_sunsubscribe, -1, PS | NS | LS, 1, -1, 1, "pubsub", "Stops listening to messages posted to shard channels.", "7.0.0", "[shardchannel [shardchannel ...]]", NULL},
    {"spublish", cmd_spublish, 3, PS | LS | CMD_FAST, 1, 1, 1, "pubsub", "Post a message to a shard channel", "7.0.0", "shardchannel message", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
