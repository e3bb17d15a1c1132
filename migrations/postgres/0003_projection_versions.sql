-- Which version of a projection's code built a generation. A live generation built by other
-- code is rebuilt (blue/green) when a runner starts; 0 marks generations made before versions
-- were recorded.
ALTER TABLE projection_generations ADD COLUMN schema_version integer NOT NULL DEFAULT 0;
