#!/usr/bin/env python3
"""Writes the demo inventory's YAML to stdout; pipe it into `age -R` to make
inventories/demo.yaml.age. Dates are written for the anchor 2026-11-26T12:00:00Z;
`keyward demo` shifts them to today. Every secret here is a random demo value."""
import datetime as dt
import random
import sys

random.seed(7)
ANCHOR = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.timezone.utc)
RECIPIENT = sys.argv[1]


def day(offset):
    return (ANCHOR + dt.timedelta(days=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def secret(prefix):
    return prefix + "".join(random.choice("abcdef0123456789") for _ in range(32))


# (client id, name, [(id, name, provider, scopes, owner, used_by, created, expires, last_used, rotated, extra)])
CLIENTS = [
    ("acme", "ACME Corp", [
        ("crm-sync", "CRM sync bot", "sandbox", ["contacts:read", "contacts:write"], "alice", ["n8n workflow 'crm sync'"], -40, None, -1, None, {}),
        ("mail-send", "Transactional mail", "sandbox", ["mail.send"], "alice", ["website contact form", "invoice mailer"], -200, None, -2, -100, {}),
        ("chatbot-llm", "Support chatbot model key", "sandbox", ["model.request"], "bob", ["chatbot on acme.com"], -80, 6, 0, None, {}),
        ("billing-webhook", "Billing webhook signer", "sandbox", ["webhooks:write"], "alice", ["billing service"], -30, -3, -4, None, {}),
        ("analytics-export", "Analytics nightly export", "sandbox", ["analytics:read"], "carol", ["nightly export job"], -50, None, -143, None, {}),
        ("cdn-purge", "CDN purge token", "sandbox", ["zone:purge"], "bob", ["deploy pipeline"], -20, 200, -1, None, {"deploy": {"kind": "command", "run": "cat > /dev/null"}}),
        ("hubspot-app", "HubSpot private app", "manual", ["crm.objects.contacts.read"], "alice", ["sales dashboard"], -85, None, -3, None, {}),
        ("sms-alerts", "SMS alerts", "sandbox", ["messages:create"], "carol", ["on-call pager"], -10, 355, -1, None, {}),
        ("backup-s3", "Offsite backups", "sandbox", ["s3:PutObject"], "bob", ["backup cron"], -120, None, -6, -5, {"risks": ["scope `s3:*` granted on the bucket; only PutObject is used"]}),
    ]),
    ("bluebird", "Bluebird Bakery", [
        ("shop-payments", "Shop payments", "sandbox", ["charges:write", "refunds:write"], "dave", ["web shop"], -95, None, -1, None, {}),
        ("newsletter", "Newsletter list sync", "sandbox", ["lists:write"], "dave", ["signup form"], -60, 12, -70, None, {}),
        ("maps", "Store locator maps", "sandbox", ["maps:read"], "erin", ["store locator page"], -300, None, -1, -25, {}),
        ("booking-bot", "Table booking chatbot", "sandbox", ["calendar:write", "admin"], "erin", ["booking chatbot"], -15, 75, -1, None, {"risks": ["scope `admin` broader than needed"]}),
        ("old-pos", "Old point-of-sale export", "sandbox", ["orders:read"], "dave", [], -400, None, -210, -380, {}),
        ("instagram", "Instagram posting", "manual", ["content_publish"], "erin", ["social scheduler"], None, None, None, None, {}),
        ("reviews", "Review widget", "sandbox", ["reviews:read"], "erin", ["homepage widget"], -5, None, -1, None, {}),
        ("email-receipts", "Receipt emails", "sandbox", ["mail.send"], "dave", ["web shop"], -70, None, -1, None, {"rotate_every_days": 60}),
    ]),
    ("cobalt", "Cobalt Clinics", [
        ("ehr-bridge", "EHR bridge service", "sandbox", ["patients:read"], "frank", ["EHR bridge"], -25, 5, -1, None, {}),
        ("sms-reminders", "Appointment SMS", "sandbox", ["messages:create"], "frank", ["reminder cron"], -150, None, -1, -89, {}),
        ("intake-forms", "Intake form webhook", "sandbox", ["forms:read"], "grace", ["intake form"], -100, -20, -25, None, {}),
        ("video-visits", "Video visits", "sandbox", ["rooms:create"], "grace", ["telehealth app"], -35, None, -1, None, {}),
        ("ai-scribe", "AI scribe", "sandbox", ["model.request"], "frank", ["scribe app"], -12, 90, -1, None, {"deploy": {"kind": "manual", "instructions": "Settings → Integrations → AI in the scribe app"}}),
        ("fax-gateway", "Fax gateway", "manual", ["fax:send"], "grace", ["referrals"], -500, None, None, -500, {}),
        ("status-page", "Status page updates", "sandbox", ["incidents:write"], "grace", ["monitoring"], -45, None, -75, None, {}),
        ("legacy-ftp", "Legacy lab results", "sandbox", ["files:read"], "frank", ["lab import"], -260, None, -1, -95, {}),
    ]),
]

out = []
w = out.append
w("version: 1")
w("policy:")
w("  rotate_every_days: 90")
w("  warn_before_days: 14")
w("  stale_after_days: 60")
w("recipients:")
w(f"  - {RECIPIENT}")
w("connections:")
w("  - id: demo-sandbox")
w("    provider: sandbox")
w("clients:")
n = 0
for cid, cname, creds in CLIENTS:
    w(f"  - id: {cid}")
    w(f"    name: {cname}")
    w("    integrations:")
    for (iid, name, provider, scopes, owner, used_by, created, expires, used, rotated, extra) in creds:
        n += 1
        w(f"      - id: {iid}")
        w(f"        name: {name}")
        w(f"        provider: {provider}")
        if provider == "sandbox":
            w("        connection: demo-sandbox")
            w(f"        remote_id: sbx_demo_{n:04d}")
        w(f"        scopes: [{', '.join(scopes)}]")
        w(f"        owner: {owner}")
        if used_by:
            w("        used_by:")
            for u in used_by:
                w(f"          - \"{u}\"")
        if created is not None:
            w(f"        created_at: {day(created)}")
        if expires is not None:
            w(f"        expires_at: {day(expires)}")
        if used is not None:
            w(f"        last_used_at: {day(used)}")
        if rotated is not None:
            w(f"        last_rotated_at: {day(rotated)}")
        if "rotate_every_days" in extra:
            w(f"        rotate_every_days: {extra['rotate_every_days']}")
        if "deploy" in extra:
            d = extra["deploy"]
            w("        deploy:")
            for k, v in d.items():
                w(f"          {k}: \"{v}\"")
        w(f"        secret: {secret('demo_' + iid.replace('-', '_') + '_')}")
        if "risks" in extra:
            w("        risks:")
            for r in extra["risks"]:
                w(f"          - \"{r}\"")
print("\n".join(out))
print(f"{n} credentials", file=sys.stderr)
