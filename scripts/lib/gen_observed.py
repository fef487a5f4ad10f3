# Generates a Hubble flow export (`hubble observe -o json` lines) of N lines for bench-observed.sh:
# the hand-written corpus lines of fixtures/hubble/incident.jsonl repeated with new times, and one
# line in four a world-to-host flow on a random port. Usage: gen_observed.py OUT [N]
import json, random, sys
random.seed(7)
src = [l for l in open('fixtures/hubble/incident.jsonl').read().split('\n') if l.startswith('{"flow"') and l.endswith('}')]
base = [json.loads(l) for l in src]
out = open(sys.argv[1], 'w')
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000):
    t = "2026-12-01T%02d:%02d:%02d.%06dZ" % (3 + i // 3_600_000, (i // 60000) % 60, (i // 1000) % 60, i % 1000 * 1000)
    if i % 4 == 0:
        ip = "203.0.%d.%d" % (random.randrange(0, 200), random.randrange(1, 255))
        port = random.choice([22, 9100, 443, 6443])
        f = {"flow":{"time":t,"verdict":random.choice(["FORWARDED","DROPPED"]),"drop_reason_desc":"POLICY_DENIED","IP":{"source":ip,"destination":"10.0.0.11","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":random.randrange(1024,65535),"destination_port":port,"flags":{"SYN":True}}},"source":{"identity":2,"labels":["reserved:world"]},"destination":{"identity":1,"labels":["reserved:host","reserved:kube-apiserver"]},"Type":"L3_L4","node_name":"lab/cp-1","traffic_direction":"INGRESS","is_reply":False},"node_name":"lab/cp-1","time":t}
    else:
        f = base[i % len(base)]
        f["flow"]["time"] = t
        f["time"] = t
    out.write(json.dumps(f, separators=(",", ":")) + "\n")
