DROP TABLE disaster_accesses;
DROP TABLE disaster_declarations;
