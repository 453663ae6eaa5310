package queuejobreceiver // import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver"

import "github.com/jobtrace/jobtrace/receiver/queuejobreceiver/internal/adapters/asynq"

func init() { libraries[PresetAsynq] = asynq.NewFactory() }
