package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/bullmq"

// One file per library keeps each adapter's registration its own line.
func init() { libraries[PresetBullMQ] = bullmq.NewFactory() }
