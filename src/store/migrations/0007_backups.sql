CREATE TABLE `backups` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`service` text NOT NULL,
	`volume` text NOT NULL,
	`docker_volume` text NOT NULL,
	`target` text NOT NULL,
	`destination` text NOT NULL,
	`file` text NOT NULL,
	`trigger` text NOT NULL,
	`status` text NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`size_bytes` integer,
	`sha256` text,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `backups_service_started` ON `backups` (`service`,`volume`,`started_at`);--> statement-breakpoint
CREATE TABLE `restores` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`service` text NOT NULL,
	`backup_id` integer NOT NULL,
	`status` text NOT NULL,
	`started_at` integer NOT NULL,
	`heartbeat_at` integer NOT NULL,
	`finished_at` integer,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `restores_service_status` ON `restores` (`service`,`status`);