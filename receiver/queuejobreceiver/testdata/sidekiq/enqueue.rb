# Usage: ruby enqueue.rb CLASS COUNT — pushes COUNT jobs, each carrying a W3C traceparent at the
# top level of the job as opentelemetry-ruby's Sidekiq client middleware does, and prints one
# JSON line per job: {"jid","class","trace_id"}.
require "sidekiq"
require "securerandom"
require "json"
require_relative "jobs"

# The class constant, so each job carries its class's sidekiq_options (retry, backtrace).
klass, count = Object.const_get(ARGV[0]), Integer(ARGV[1])
count.times do |i|
  trace_id = SecureRandom.hex(16)
  tp = "00-#{trace_id}-#{SecureRandom.hex(8)}-01"
  jid = Sidekiq::Client.push("class" => klass, "args" => [i], "traceparent" => tp)
  puts JSON.generate({jid: jid, class: klass.name, trace_id: trace_id})
end
