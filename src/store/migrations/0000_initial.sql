CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`time` integer NOT NULL,
	`target` text NOT NULL,
	`operation` text NOT NULL,
	`object` text,
	`reason` text,
	`outcome` text NOT NULL,
	`error` text,
	`duration_ms` real NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_time` ON `audit_log` (`time`);--> statement-breakpoint
CREATE INDEX `audit_target_time` ON `audit_log` (`target`,`time`);--> statement-breakpoint
CREATE TABLE `deployments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`service` text NOT NULL,
	`revision` text NOT NULL,
	`image` text NOT NULL,
	`image_digest` text,
	`manifest_revision` text,
	`status` text NOT NULL,
	`started_at` integer NOT NULL,
	`completed_at` integer,
	`previous_revision` text,
	`health_check_passed` integer,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `deployments_service_started` ON `deployments` (`service`,`started_at`);--> statement-breakpoint
CREATE TABLE `drift_checks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`time` integer NOT NULL,
	`key` text NOT NULL,
	`differences` text NOT NULL,
	`repaired` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `drift_key_time` ON `drift_checks` (`key`,`time`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`type` text NOT NULL,
	`reason` text NOT NULL,
	`message` text NOT NULL,
	`involved_kind` text NOT NULL,
	`involved_name` text NOT NULL,
	`first_time` integer NOT NULL,
	`last_time` integer NOT NULL,
	`count` integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_fold` ON `events` (`involved_kind`,`involved_name`,`type`,`reason`,`message`);--> statement-breakpoint
CREATE INDEX `events_last_time` ON `events` (`last_time`);--> statement-breakpoint
CREATE TABLE `health_results` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`instance` text NOT NULL,
	`service` text NOT NULL,
	`time` integer NOT NULL,
	`status` text NOT NULL,
	`check_type` text NOT NULL,
	`exit_code` integer,
	`http_status` integer,
	`output` text,
	`response_ms` real,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `health_instance_time` ON `health_results` (`instance`,`time`);--> statement-breakpoint
CREATE INDEX `health_status_time` ON `health_results` (`status`,`time`);--> statement-breakpoint
CREATE INDEX `health_service_time` ON `health_results` (`service`,`time`);--> statement-breakpoint
CREATE TABLE `resources` (
	`key` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`spec` text NOT NULL,
	`spec_hash` text NOT NULL,
	`generation` integer NOT NULL,
	`observed_generation` integer DEFAULT 0 NOT NULL,
	`phase` text NOT NULL,
	`message` text DEFAULT '' NOT NULL,
	`conditions` text DEFAULT '[]' NOT NULL,
	`source_file` text,
	`revision` text,
	`updated_at` integer NOT NULL,
	`state_version` integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `targets` (
	`name` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`engine_version` text,
	`api_version` text,
	`latency_ms` real,
	`last_seen` integer,
	`error` text,
	`updated_at` integer NOT NULL
);
