<?php

namespace TaskManager\Worker;

/** How a task ended for this worker: the name in logs and statistics, and details. */
class Outcome
{
    /** @var string completed, retry, failed, lease_lost, cancelled, handed_back or unreported */
    public $name;
    /** @var string */
    public $detail;
    /** @var \Throwable|null */
    public $exception;

    public function __construct(string $name, string $detail = '', ?\Throwable $exception = null)
    {
        $this->name = $name;
        $this->detail = $detail;
        $this->exception = $exception;
    }
}

/** A claimed task in this worker's hands: run its handler, then complete or fail it. */
class TaskRun
{
    /** @var array */
    public $task;
    /** @var TaskContext */
    public $ctx;
    /** @var float */
    public $started;
    /** @var Api */
    private $api;
    /** @var callable|null */
    private $handler;

    public function __construct(array $task, Api $api, ?callable $handler, string $workerId)
    {
        $this->task = $task;
        $this->api = $api;
        $this->handler = $handler;
        $this->started = microtime(true);
        $this->ctx = new TaskContext($task, $workerId, function (?float $progress, ?string $message) use ($api, $task) {
            $api->heartbeat($task, $progress, $message);
        });
    }

    public function id(): string
    {
        return (string) $this->task['id'];
    }

    /** Run the handler and report what came of it; TooManyErrors when the API cannot be told. */
    public function run(): Outcome
    {
        try {
            $value = $this->callHandler();
        } catch (Retry $e) {
            return $this->fail($e->getMessage(), true, 'retry', $e->delaySeconds);
        } catch (PermanentError $e) {
            return $this->fail($e->getMessage(), false, 'failed');
        } catch (\TaskManagerException $e) {
            if ($this->ctx->isDropped()) {
                return $this->dropped($e);
            }
            return $this->failWith($e);
        } catch (\Throwable $e) {
            return $this->failWith($e);
        }
        return $this->complete($value);
    }

    /** @return mixed */
    private function callHandler()
    {
        if ($this->handler === null) {
            throw new PermanentError(sprintf('this worker has no handler for task type %s', $this->ctx->type));
        }
        return call_user_func($this->handler, $this->ctx->params, $this->ctx);
    }

    private function failWith(\Throwable $e): Outcome
    {
        $outcome = $this->fail(get_class($e) . ': ' . $e->getMessage(), true, 'retry');
        $outcome->exception = $e;
        return $outcome;
    }

    private function dropped(\TaskManagerException $e): Outcome
    {
        $name = $e->getErrorCode() === 'task_cancelled' ? 'cancelled' : 'lease_lost';
        return new Outcome($name, 'dropped without reporting: ' . $e->getMessage());
    }

    /** @param mixed $value */
    private function complete($value): Outcome
    {
        if (is_array($value) && array_key_exists('success', $value) && $value['success'] === false) {
            // The envelope of the integration guide: ['success' => false, 'message' => ...].
            $message = isset($value['message']) && is_scalar($value['message']) && (string) $value['message'] !== ''
                ? (string) $value['message']
                : 'the handler reported failure';
            return $this->fail($message, true, 'retry');
        }
        try {
            $this->api->complete($this->task, self::resultObject($value));
        } catch (\TaskManagerException $e) {
            if (in_array($e->getErrorCode(), ['validation_error', 'payload_too_large'], true)) {
                return $this->fail('result refused by the API: ' . $e->getMessage(), false, 'failed');
            }
            if ($this->isGone($e)) {
                return new Outcome('lease_lost', 'result not accepted: ' . $e->getMessage());
            }
            throw $e;
        }
        return new Outcome('completed');
    }

    private function fail(string $error, bool $retry, string $name, ?float $delay = null): Outcome
    {
        try {
            $task = $this->api->fail($this->task, $error, $retry, $delay);
        } catch (\TaskManagerException $e) {
            if ($this->isGone($e)) {
                return new Outcome('lease_lost', 'failure not accepted: ' . $e->getMessage());
            }
            throw $e;
        }
        if (isset($task['status']) && $task['status'] === 'failed') {
            return new Outcome('failed', $error);
        }
        return new Outcome($name, sprintf('%s (retry at %s)', $error, isset($task['run_at']) ? $task['run_at'] : '?'));
    }

    private function isGone(\TaskManagerException $e): bool
    {
        return $e->isDropped() || in_array($e->getErrorCode(), ['not_found', 'invalid_state'], true);
    }

    /**
     * A handler's return value as the JSON object the API stores: null is {}, an array with
     * string keys is the object itself, anything else is {"value": ...}.
     *
     * @param mixed $value
     */
    public static function resultObject($value): array
    {
        if ($value === null) {
            return [];
        }
        if ($value instanceof \JsonSerializable) {
            $value = $value->jsonSerialize();
        }
        if (is_object($value)) {
            $value = get_object_vars($value);
        }
        if (is_array($value) && ($value === [] || array_keys($value) !== range(0, count($value) - 1))) {
            return $value;
        }
        return ['value' => $value];
    }

    /** The one line per task: id, type, attempt, duration, outcome. */
    public function logOutcome(Logger $log, Outcome $outcome): void
    {
        $seconds = microtime(true) - $this->started;
        $text = sprintf(
            'task %s %s %s in %.3f s (attempt %d/%d)',
            $this->id(),
            $this->ctx->type,
            $outcome->name,
            $seconds,
            $this->ctx->attempt,
            $this->ctx->maxAttempts
        );
        if ($outcome->detail !== '') {
            $text .= ': ' . $outcome->detail;
        }
        $extra = [
            'task_id' => $this->id(),
            'task_type' => $this->ctx->type,
            'attempt' => $this->ctx->attempt,
            'duration_seconds' => round($seconds, 3),
            'outcome' => $outcome->name,
        ];
        $log->log($outcome->name === 'completed' ? 'info' : 'warning', $text, $extra);
        if ($outcome->exception !== null) {
            $log->debug((string) $outcome->exception, ['task_id' => $this->id()]);
        }
    }
}
