DROP TABLE registration_holds;
