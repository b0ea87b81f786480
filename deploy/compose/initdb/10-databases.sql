-- One database per kommune service, created on the PostgreSQL volume's first start.
-- Add a line when a service with a database is added (and mirror it in k8s/overlays/dev/databases.sql).
CREATE DATABASE identity;
CREATE DATABASE klik;
CREATE DATABASE catalogue;
CREATE DATABASE guides;
CREATE DATABASE cases;
CREATE DATABASE changes;
CREATE DATABASE notify;
