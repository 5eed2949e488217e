DROP TABLE resident_photos;
