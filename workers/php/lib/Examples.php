<?php

namespace TaskManager\Worker;

/** The built-in example.* handlers: something to run before writing your own. */
class Examples
{
    const MAX_SLEEP_SECONDS = 3600.0;

    /** @return array<string, callable> handlers by task type */
    public static function handlers(): array
    {
        return [
            'example.echo' => [self::class, 'echoMessage'],
            'example.uppercase' => [self::class, 'uppercase'],
            'example.math.add' => [self::class, 'add'],
            'example.sleep' => [self::class, 'sleep'],
            'example.error' => [self::class, 'error'],
        ];
    }

    /** Answer the `message` param back (or all params when there is no message). */
    public static function echoMessage(array $params): array
    {
        return ['echo' => array_key_exists('message', $params) ? $params['message'] : \WorkerClient::object($params)];
    }

    /** Upper-case the `text` param. */
    public static function uppercase(array $params): array
    {
        $text = array_key_exists('text', $params) ? $params['text'] : (isset($params['message']) ? $params['message'] : null);
        if (!is_string($text)) {
            throw new PermanentError('params.text must be a string');
        }
        return ['text' => function_exists('mb_strtoupper') ? mb_strtoupper($text, 'UTF-8') : strtoupper($text)];
    }

    /** Add the numbers `a` and `b` (or every number of `numbers`). */
    public static function add(array $params): array
    {
        $numbers = array_key_exists('numbers', $params)
            ? $params['numbers']
            : [isset($params['a']) ? $params['a'] : null, isset($params['b']) ? $params['b'] : null];
        if (!is_array($numbers) || count(array_filter($numbers, [self::class, 'isNumber'])) !== count($numbers)) {
            throw new PermanentError('give numbers as params.a and params.b, or a list params.numbers');
        }
        return ['sum' => array_sum($numbers)];
    }

    /**
     * Sleep `seconds` (default 1), reporting progress at each step; between steps it wakes every
     * tenth of a second to call $ctx->heartbeat(), which sends one only when it is due.
     */
    public static function sleep(array $params, TaskContext $ctx): array
    {
        $seconds = array_key_exists('seconds', $params) ? $params['seconds'] : 1;
        if (!self::isNumber($seconds) || $seconds < 0 || $seconds > self::MAX_SLEEP_SECONDS) {
            throw new PermanentError(sprintf('params.seconds must be a number from 0 to %g', self::MAX_SLEEP_SECONDS));
        }
        $steps = (int) max(1, min(100, ceil($seconds)));
        $started = microtime(true);
        for ($step = 1; $step <= $steps; $step++) {
            $stepEnd = $started + $seconds * $step / $steps;
            while (($left = $stepEnd - microtime(true)) > 0) {
                // A signal may cut usleep short: the loop sleeps the rest (a stop lets the task finish).
                usleep((int) ceil(min($left, 0.1) * 1000000));
                $ctx->heartbeat();
            }
            $ctx->progress(100 * $step / $steps, sprintf('slept %g s', $seconds * $step / $steps));
        }
        return ['slept_seconds' => $seconds];
    }

    /** Fail on purpose: `permanent` for a final failure, `retry_delay_seconds` for a Retry. */
    public static function error(array $params): array
    {
        $message = array_key_exists('message', $params) && is_scalar($params['message'])
            ? (string) $params['message']
            : 'example.error failed on purpose';
        if (!empty($params['permanent'])) {
            throw new PermanentError($message);
        }
        if (array_key_exists('retry_delay_seconds', $params) && self::isNumber($params['retry_delay_seconds'])) {
            throw new Retry($message, (float) $params['retry_delay_seconds']);
        }
        throw new \RuntimeException($message);
    }

    /** @param mixed $value */
    public static function isNumber($value): bool
    {
        return (is_int($value) || is_float($value)) && is_finite((float) $value);
    }
}
