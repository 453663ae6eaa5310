# Prints Sidekiq's own view of finished failures through its API: the dead and retry sets.
require "sidekiq"
require "sidekiq/api"
require "json"

out = {dead: {}, retry: {}, processed: Sidekiq::Stats.new.processed, failed: Sidekiq::Stats.new.failed}
Sidekiq::DeadSet.new.each do |j|
  out[:dead][j.jid] = {retry_count: j["retry_count"], error_message: j["error_message"], queue: j.queue}
end
Sidekiq::RetrySet.new.each do |j|
  out[:retry][j.jid] = {retry_count: j["retry_count"], error_message: j["error_message"], queue: j.queue}
end
puts JSON.generate(out)
