DROP TABLE paper_consents;
DROP TABLE imported_residents;
DROP TABLE resident_imports;
