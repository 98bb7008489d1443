CREATE TABLE `actor_snapshots` (
	`id` text PRIMARY KEY NOT NULL,
	`machine` text NOT NULL,
	`snapshot` text NOT NULL,
	`updated_at` integer NOT NULL
);
