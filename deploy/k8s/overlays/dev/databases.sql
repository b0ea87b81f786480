-- One database per kommune service, created on the dev PostgreSQL's first start.
-- Keep in step with deploy/compose/initdb/10-databases.sql.
CREATE DATABASE identity;
CREATE DATABASE klik;
CREATE DATABASE catalogue;
CREATE DATABASE guides;
CREATE DATABASE cases;
CREATE DATABASE changes;
CREATE DATABASE notify;
