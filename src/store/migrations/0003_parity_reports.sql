CREATE TABLE `parity_reports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`time` integer NOT NULL,
	`project` text NOT NULL,
	`environment_a` text NOT NULL,
	`environment_b` text NOT NULL,
	`identical` integer NOT NULL,
	`summary` text NOT NULL,
	`report` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `parity_project_time` ON `parity_reports` (`project`,`time`);