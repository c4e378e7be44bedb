-- A tenant's Kubernetes cluster (docs/protocol.md §9): its name (the EKS cluster name, signed
-- into every token as x-k8s-aws-id), its API server URL and its CA (base64 of the PEM).
ALTER TABLE tenants ADD COLUMN k8s_cluster TEXT;
ALTER TABLE tenants ADD COLUMN k8s_server TEXT;
ALTER TABLE tenants ADD COLUMN k8s_ca TEXT;
