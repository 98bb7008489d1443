CREATE TABLE `manifest_files` (
	`file` text PRIMARY KEY NOT NULL,
	`state` text NOT NULL,
	`errors` text DEFAULT '[]' NOT NULL,
	`resources` text DEFAULT '[]' NOT NULL,
	`updated_at` integer NOT NULL
);
