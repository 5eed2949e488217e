DROP TABLE facility_municipalities;
