"""Check an EKS token the way the API server's authenticator and STS do, against moto.

usage: eks_verify.py MOTO_URL TOKEN CLUSTER

Prints one JSON object:
  url        the presigned URL inside the token
  params     its query parameters
  signature  "valid" when the SigV4 query signature, recomputed with the secret moto holds for
             X-Amz-Credential's key and the header x-k8s-aws-id: CLUSTER, is the one in the URL
  key_arn    the assumed-role ARN moto holds for that key (None for a key moto never issued)
  status     the status moto answers the URL with when GET with x-k8s-aws-id: CLUSTER
  body       moto's answer
"""
import base64
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

moto, token, cluster = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
prefix = "k8s-aws-v1."
assert token.startswith(prefix), token
payload = token[len(prefix):]
assert "=" not in payload, "unpadded"
url = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
out["url"] = url
parts = urllib.parse.urlsplit(url)
pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
params = dict(pairs)
out["params"] = params


def q(s):
    return urllib.parse.quote(s, safe="-_.~")


def find(node, key):
    """The object in moto's state whose access_key_id is key."""
    if isinstance(node, dict):
        if node.get("access_key_id") == key:
            return node
        node = list(node.values())
    if isinstance(node, list):
        for v in node:
            found = find(v, key)
            if found:
                return found
    return None


key_id, date, region, service, _ = params["X-Amz-Credential"].split("/")
state = json.load(urllib.request.urlopen(moto + "/moto-api/data.json"))
held = find(state.get("sts", {}), key_id)
out["key_arn"] = None
out["signature"] = "unknown key"
if held:
    role = held["role_arn"].split(":role/")[1]
    account = held["role_arn"].split(":")[4]
    out["key_arn"] = f"arn:aws:sts::{account}:assumed-role/{role}/{held['session_name']}"
    signed = params["X-Amz-SignedHeaders"].split(";")
    values = {"host": parts.netloc, "x-k8s-aws-id": cluster}
    canonical_headers = "".join(f"{h}:{values[h]}\n" for h in signed)
    query = "&".join(
        f"{q(k)}={q(v)}" for k, v in sorted(pairs) if k != "X-Amz-Signature"
    )
    canonical = "\n".join(
        [
            "GET",
            parts.path or "/",
            query,
            canonical_headers,
            params["X-Amz-SignedHeaders"],
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    k = ("AWS4" + held["secret_access_key"]).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    mine = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    out["signature"] = "valid" if mine == params["X-Amz-Signature"] else "invalid"

req = urllib.request.Request(url, headers={"x-k8s-aws-id": cluster})
try:
    with urllib.request.urlopen(req) as resp:
        out["status"], out["body"] = resp.status, resp.read().decode()
except urllib.error.HTTPError as e:
    out["status"], out["body"] = e.code, e.read().decode()
print(json.dumps(out))
