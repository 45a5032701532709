<?php

namespace TaskManager\Worker;

/** The health check failed: the message says what to check. */
class StartupFailed extends \RuntimeException
{
}

/**
 * The worker's side of the API: every call fenced with the lease token, transient failures
 * (no answer, 503, 429) retried with backoff and jitter, consecutive failures counted.
 */
class Api
{
    const MAX_LONG_POLL_SECONDS = 30.0;
    const HEALTH_CHECK_ATTEMPTS = 4;
    const HAND_BACK_TIMEOUT_SECONDS = 5.0;
    const MAX_ERROR_LENGTH = 65536;

    /** @var \WorkerClient */
    public $client;
    /** @var Config */
    private $config;
    /** @var Logger */
    private $log;
    /** @var ErrorCounter */
    public $errors;
    /** @var Stats */
    private $stats;
    /** @var callable function (): bool, true when the worker must give up waiting */
    private $shouldStop;

    public function __construct(\WorkerClient $client, Config $config, Logger $log, Stats $stats, callable $shouldStop)
    {
        $this->client = $client;
        $this->config = $config;
        $this->log = $log;
        $this->stats = $stats;
        $this->errors = new ErrorCounter($config->maxConsecutiveErrors);
        $this->shouldStop = $shouldStop;
    }

    /** GET /health, a few backed-off tries; StartupFailed with advice when it stays down. */
    public function checkHealth(): array
    {
        $reason = '';
        for ($attempt = 0; $attempt < self::HEALTH_CHECK_ATTEMPTS; $attempt++) {
            try {
                return $this->client->health();
            } catch (\TaskManagerException $e) {
                $reason = $e->getMessage();
                $this->log->warning(sprintf('API health check failed (try %d of %d): %s', $attempt + 1, self::HEALTH_CHECK_ATTEMPTS, $reason));
            }
            if ($attempt + 1 < self::HEALTH_CHECK_ATTEMPTS && !$this->stopRequested()) {
                $this->pause(Backoff::delay($attempt, 0.5));
            }
        }
        throw new StartupFailed(sprintf(
            'API health check failed: the TaskManager API at %s is not reachable (%s). Is the server running? Check --api-url (TASKMANAGER_API_URL).',
            $this->client->getApiUrl(),
            $reason
        ));
    }

    /** One task, long-polling up to the poll interval (at most 30 s); null when none came or a stop cut the wait short. */
    public function claim(): ?array
    {
        $options = [
            'task_types' => $this->config->taskTypes,
            'wait_seconds' => min($this->config->pollInterval, self::MAX_LONG_POLL_SECONDS),
            'abort_check' => $this->shouldStop,
        ];
        return $this->retrying('claim', function () use ($options) {
            return $this->client->claim($this->config->workerId, $options);
        }, true);
    }

    /** One heartbeat; lease_lost/task_cancelled are thrown (drop the task), other failures logged. */
    public function heartbeat(array $task, ?float $progress, ?string $message): void
    {
        try {
            $this->client->heartbeat($task['id'], $this->config->workerId, $task['lease_token'], ['progress' => $progress, 'message' => $message]);
            $this->errors->success();
        } catch (\TaskManagerException $e) {
            if ($e->isDropped() || $e->getErrorCode() === 'not_found') {
                throw $e;
            }
            $this->count($e, false);
            $this->log->warning(sprintf('heartbeat for task %s failed (%s); trying again later', $task['id'], $e->getMessage()), ['task_id' => $task['id']]);
        }
    }

    public function complete(array $task, array $result): array
    {
        return $this->retrying('complete', function () use ($task, $result) {
            return $this->client->complete($task['id'], $result, $this->config->workerId, $task['lease_token']);
        });
    }

    public function fail(array $task, string $error, bool $retry, ?float $delay = null): array
    {
        $options = [
            'retry' => $retry,
            'retry_delay_seconds' => $delay,
            'worker_id' => $this->config->workerId,
            'lease_token' => $task['lease_token'],
        ];
        $error = self::errorText($error);
        return $this->retrying('fail', function () use ($task, $error, $options) {
            return $this->client->fail($task['id'], $error, $options);
        });
    }

    /**
     * An error as the API takes it, as the Python worker sends it: NUL (refused everywhere) and
     * invalid UTF-8 (which JSON cannot carry) shown as U+FFFD, then the first MAX_ERROR_LENGTH
     * characters, cut between two characters. Otherwise the fail is refused with 422 and the
     * task stays unreported until its lease expires.
     */
    public static function errorText(string $error): string
    {
        if (!preg_match('//u', $error)) {
            $error = json_decode(json_encode($error, JSON_INVALID_UTF8_SUBSTITUTE));
        }
        return self::firstCharacters(str_replace("\0", "\u{FFFD}", $error), self::MAX_ERROR_LENGTH);
    }

    /** The first $limit characters of valid UTF-8 text, without mbstring. */
    private static function firstCharacters(string $text, int $limit): string
    {
        if (strlen($text) <= $limit) {
            return $text;
        }
        $characters = 0;
        $bytes = strlen($text);
        for ($at = 0; $at < $bytes; $at++) {
            // A character starts at every byte that is not a continuation byte (10xxxxxx).
            if ((ord($text[$at]) & 0xC0) !== 0x80 && ++$characters > $limit) {
                return substr($text, 0, $at);
            }
        }
        return $text;
    }

    /** Give a task back for another worker to claim at once: one try, bounded in time. */
    public function handBack(\WorkerClient $client, string $taskId, ?string $token, string $reason): array
    {
        $options = ['retry' => true, 'retry_delay_seconds' => 0, 'worker_id' => $this->config->workerId, 'lease_token' => $token];
        return $client->fail($taskId, $reason, $options);
    }

    /** Tasks the API believes this worker holds (to find one that a cut-off claim leased). */
    public function heldTasks(\WorkerClient $client): array
    {
        $page = $client->listTasks(['status' => 'processing', 'worker_id' => $this->config->workerId, 'limit' => 100]);
        return $page['tasks'];
    }

    /**
     * Call until the API answers; transient errors back off (TooManyErrors past the limit).
     * With $stoppable, a stop request ends the retries (and a cut-off wait) with null.
     *
     * @return mixed
     */
    private function retrying(string $what, callable $call, bool $stoppable = false)
    {
        for ($attempt = 0;; $attempt++) {
            try {
                $answer = $call();
                $this->errors->success();
                return $answer;
            } catch (\TaskManagerException $e) {
                $details = $e->getDetails();
                if (!empty($details['aborted'])) {
                    throw $e;
                }
                if (!$e->isTransient()) {
                    $this->errors->success();
                    throw $e;
                }
                $this->count($e, true);
                $delay = Backoff::delay($attempt);
                $this->log->warning(sprintf('%s failed (%s); retrying in %.1f s', $what, $e->getMessage(), $delay));
            }
            if ($stoppable && $this->stopRequested()) {
                return null;
            }
            $this->pause($delay, $stoppable);
            if ($stoppable && $this->stopRequested()) {
                return null;
            }
        }
    }

    private function count(\TaskManagerException $e, bool $fatal): void
    {
        $this->stats->apiErrors++;
        try {
            $this->errors->failure($e->getMessage());
        } catch (TooManyErrors $tooMany) {
            if ($fatal) {
                throw $tooMany;
            }
        }
    }

    private function stopRequested(): bool
    {
        return (bool) call_user_func($this->shouldStop);
    }

    /** Sleep in short steps, so that a stop request (when $stoppable) ends the wait early. */
    public function pause(float $seconds, bool $stoppable = true): void
    {
        $deadline = microtime(true) + $seconds;
        while (($left = $deadline - microtime(true)) > 0) {
            if ($stoppable && $this->stopRequested()) {
                return;
            }
            usleep((int) ceil(min($left, 0.1) * 1000000));
        }
    }
}
