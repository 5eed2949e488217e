DROP TABLE resident_confirmations;
