# Jobs for the queuejob receiver's Sidekiq integration test, loaded by `sidekiq -r`.
require "sidekiq"
require "fileutils"

Sidekiq.configure_server do |config|
  # Move due retries to their queue about every second instead of Sidekiq's 5 s + 10 s start.
  config.options[:poll_interval_average] = 1
end

MARKS = ENV.fetch("JOBTRACE_MARKS")

class OkJob
  include Sidekiq::Worker
  sidekiq_options retry: 1

  def perform(n)
    sleep 0.02
  end
end

# Fails its first attempt only; a marker file remembers the attempt across the retry.
class FlakyJob
  include Sidekiq::Worker
  sidekiq_options retry: 1
  sidekiq_retry_in { |_count, _ex| 1 }

  def perform(n)
    mark = File.join(MARKS, jid)
    unless File.exist?(mark)
      FileUtils.touch(mark)
      raise ArgumentError, "flaky first attempt #{n}"
    end
  end
end

class FailJob
  include Sidekiq::Worker
  sidekiq_options retry: 1, backtrace: 5
  sidekiq_retry_in { |_count, _ex| 1 }

  def perform(n)
    raise RuntimeError, "always fails #{n}"
  end
end

class SlowJob
  include Sidekiq::Worker
  sidekiq_options retry: 0

  def perform(n)
    FileUtils.touch(File.join(MARKS, "slow-running"))
    sleep 60
  end
end
