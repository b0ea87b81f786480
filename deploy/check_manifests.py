"""Policy checks on rendered manifests that a schema cannot express.

Usage: kubectl kustomize deploy/k8s/overlays/prod | python check_manifests.py prod
Prints the Secrets the manifests use but do not define (the operator creates them); exits 1 on a finding.
"""

import sys

import yaml

overlay = sys.argv[1]
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
problems = []


def need(ok, what):
    if not ok:
        problems.append(what)


def split_image(image):
    """('registry:5000/kommune', '0.1.0') from 'registry:5000/kommune:0.1.0'; digests count as a tag."""
    if "@" in image:
        return image.split("@")[0], "digest"
    repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    return repo, tag


def workloads():
    for kind in ("Deployment", "StatefulSet"):
        yield from by_kind.get(kind, {}).items()


external_secrets = set()
for name, w in workloads():
    pod = w["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    need(psc.get("runAsNonRoot") is True, f"{name}: runAsNonRoot")
    need(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: seccomp RuntimeDefault")
    need(pod.get("automountServiceAccountToken") is False, f"{name}: automountServiceAccountToken false")
    labels = w["spec"]["template"]["metadata"]["labels"]
    need(w["spec"]["selector"]["matchLabels"].items() <= labels.items(), f"{name}: selector vs labels")
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        need(sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation false")
        need("ALL" in sc.get("capabilities", {}).get("drop", []), f"{name}: drop ALL capabilities")
        res = c.get("resources", {})
        need({"cpu", "memory"} <= res.get("requests", {}).keys(), f"{name}: cpu and memory requests")
        need("memory" in res.get("limits", {}), f"{name}: memory limit")
        refs = [e["valueFrom"]["secretKeyRef"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
        for r in refs:
            if r["name"] not in by_kind.get("Secret", {}):
                external_secrets.add(f"{r['name']}/{r['key']}" + (" (optional)" if r.get("optional") else ""))
        for ef in c.get("envFrom", []):
            need(ef["configMapRef"]["name"] in by_kind.get("ConfigMap", {}), f"{name}: envFrom ConfigMap exists")
        repo, tag = split_image(c["image"])
        if repo.rsplit("/", 1)[-1] != "kommune":
            continue
        # a kommune service or the gateway
        need(c["command"] == [f"/usr/local/bin/kommune-{name}"], f"{name}: command kommune-{name}")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        need(env.get("OTEL_SERVICE_NAME") == f"kommune-{name}", f"{name}: OTEL_SERVICE_NAME")
        need(sc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            need(c.get(probe, {}).get("grpc", {}).get("port") == 50051, f"{name}: {probe} grpc 50051")
        need(pod.get("terminationGracePeriodSeconds", 30) >= 30, f"{name}: terminationGracePeriodSeconds")
        sa = by_kind.get("ServiceAccount", {}).get(pod.get("serviceAccountName"))
        need(sa is not None and sa.get("automountServiceAccountToken") is False, f"{name}: own ServiceAccount")
        svc = by_kind.get("Service", {}).get(name)
        need(svc is not None, f"{name}: Service")
        if svc:
            port = svc["spec"]["ports"][0]
            need(port == {**port, "name": "grpc", "port": 50051, "appProtocol": "kubernetes.io/h2c"},
                 f"{name}: Service port grpc 50051 h2c")
        config = by_kind["ConfigMap"][c["envFrom"][0]["configMapRef"]["name"]]["data"]
        need(config.get(f"KOMMUNE_{name.upper()}_ADDR", f"http://{name}:50051") == f"http://{name}:50051",
             f"{name}: address in kommune-config")
        if overlay == "prod":
            need(tag not in ("", "latest", "dev"), f"{name}: image pinned by tag")
            hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(name)
            need(hpa is not None and hpa["spec"]["minReplicas"] >= 2, f"{name}: HPA minReplicas >= 2")
            need(hpa is not None and hpa["spec"]["scaleTargetRef"]["name"] == name, f"{name}: HPA target")
            pdb = by_kind.get("PodDisruptionBudget", {}).get(name)
            need(pdb is not None and pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(),
                 f"{name}: PodDisruptionBudget")
            need(config.get("KOMMUNE_LOG_FORMAT") == "json", f"{name}: JSON logs")

for name, svc in by_kind.get("Service", {}).items():
    sel = svc["spec"]["selector"].items()
    need(any(sel <= w["spec"]["template"]["metadata"]["labels"].items() for _, w in workloads()),
         f"Service {name}: selects no workload")

if overlay == "dev":
    need(not external_secrets, f"dev must define all its Secrets: {sorted(external_secrets)}")
for p in problems:
    print("FAIL", overlay, p)
print(f"{overlay}: {len(docs)} objects, {len(problems)} findings; Secrets expected from the operator:",
      ", ".join(sorted(external_secrets)) or "none")
sys.exit(1 if problems else 0)
