-- The scaled profile's replicas keep their metadata in a database of their own, apart from the
-- single-node berth service's (run once, when the PostgreSQL volume is created).
CREATE DATABASE berth_scaled OWNER berth;
