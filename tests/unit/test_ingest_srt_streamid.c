/* SRT streamids of publishers (ingest/src/srt_streamid.c). */
#include <string.h>

#include <criterion/criterion.h>

#include "cir_error.h"
#include "cir_ingest.h"

static void
accepts_in(const char *sid, const char *app, const char *key, const char *args)
{
    char ap[64], k[64], a[256];
    const char *why = NULL;

    cr_assert_eq(cir_srt_streamid_parse(sid, ap, k, a, &why), 0, "%s: %s", sid,
                 why ? why : "?");
    cr_assert_str_eq(ap, app, "%s", sid);
    cr_assert_str_eq(k, key, "%s", sid);
    cr_assert_str_eq(a, args, "%s", sid);
}

/* in the application "live" */
static void
accepts(const char *sid, const char *key, const char *args)
{
    accepts_in(sid, "live", key, args);
}

static void
refuses(const char *sid, const char *because)
{
    char ap[64], k[64], a[256];
    const char *why = NULL;

    cr_assert_eq(cir_srt_streamid_parse(sid, ap, k, a, &why), CIR_EINVAL, "%s",
                 sid ? sid : "(null)");
    cr_assert(why != NULL && strstr(why, because) != NULL, "%s: %s",
              sid ? sid : "(null)", why ? why : "(no reason)");
}

Test(ingest_srt_streamid, access_control_form)
{
    accepts("#!::r=live/k1,m=publish", "k1", "");
    accepts("#!::m=publish,r=live/k1", "k1", "");
    accepts("#!::r=k1,m=publish", "k1", "");
    accepts("#!::u=alice,r=live/cam-2,m=publish,s=abc,t=stream", "cam-2",
            "u=alice&s=abc");
}

Test(ingest_srt_streamid, plain_form)
{
    accepts("live/k1", "k1", "");
    accepts("k1", "k1", "");
    accepts("live/k1?token=xyz&a=b", "k1", "token=xyz&a=b");
}

Test(ingest_srt_streamid, other_applications)
{
    accepts_in("events/k1", "events", "k1", "");
    accepts_in("#!::r=events/cam-2,m=publish", "events", "cam-2", "");
    accepts_in("my_app-2/k1?t=1", "my_app-2", "k1", "t=1");
}

Test(ingest_srt_streamid, refused_with_a_reason)
{
    refuses(NULL, "no streamid");
    refuses("", "no streamid");
    refuses("#!::r=live/k1,m=request", "mode is not publish");
    refuses("#!::r=live/k1,m=bidirectional", "mode is not publish");
    refuses("#!::r=live/k1", "default mode is request");
    refuses("#!::m=publish", "no resource");
    refuses("#!::r=live/k1,m=publish,t=file", "type is not stream");
    refuses("#!::{r=live/k1,m=publish}", "nested");
    refuses("#!::r=live/k1,junk", "malformed");
    refuses("#!r=live/k1", "malformed access-control");
    refuses("/k1", "no application");
    refuses("../k1", "invalid application name");
    refuses("#!::r=a b/k1,m=publish", "invalid application name");
    refuses("0123456789012345678901234567890123456789012345678901234567890123"
            "/k1",
            "application name longer than 63");
    refuses("live/", "no stream key");
    refuses("live/../etc", "invalid stream key");
    refuses("live/a/b", "invalid stream key");
    refuses("live/0123456789012345678901234567890123456789012345678901234567"
            "890123",
            "longer than 63");
}

Test(ingest_srt_streamid, bounded)
{
    char big[700];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    refuses(big, "longer than 512");
    memcpy(big, "#!::r=live/k,m=publish,u=", 25);
    big[400] = '\0';
    refuses(big, "longer than 255");
}
