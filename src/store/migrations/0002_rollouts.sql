CREATE TABLE `revisions` (
	`service` text NOT NULL,
	`revision` text NOT NULL,
	`spec` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `revisions_service_revision` ON `revisions` (`service`,`revision`);--> statement-breakpoint
CREATE TABLE `service_pins` (
	`service` text PRIMARY KEY NOT NULL,
	`manifest_revision` text NOT NULL,
	`run_revision` text,
	`reason` text NOT NULL,
	`since` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `deployments` ADD `trigger` text DEFAULT 'manifest' NOT NULL;