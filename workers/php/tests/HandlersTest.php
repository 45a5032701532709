<?php

use PHPUnit\Framework\TestCase;
use TaskManager\Worker\Api;
use TaskManager\Worker\Backoff;
use TaskManager\Worker\ErrorCounter;
use TaskManager\Worker\Examples;
use TaskManager\Worker\PermanentError;
use TaskManager\Worker\Retry;
use TaskManager\Worker\TaskContext;
use TaskManager\Worker\TaskRun;
use TaskManager\Worker\TooManyErrors;

final class HandlersTest extends TestCase
{
    private function task(array $extra = []): array
    {
        return $extra + [
            'id' => 't1',
            'type' => 'example.sleep',
            'params' => [],
            'attempts' => 2,
            'max_attempts' => 3,
            'claimed_at' => '2025-11-07T18:00:00.000000Z',
            'lease_expires_at' => '2025-11-07T18:00:03.000000Z',
        ];
    }

    public function testRetryTakesANumberFirstAsTheDelay(): void
    {
        $this->assertSame(['retry requested', 30.0], [(new Retry(30))->getMessage(), (new Retry(30))->delaySeconds]);
        $this->assertSame(['retry requested', 2.5], [(new Retry(2.5))->getMessage(), (new Retry(2.5))->delaySeconds]);
        $this->assertSame(['why', null], [(new Retry('why'))->getMessage(), (new Retry('why'))->delaySeconds]);
        $this->assertSame(['why', 30.0], [(new Retry('why', 30))->getMessage(), (new Retry('why', 30))->delaySeconds]);
        foreach ([[30, 60], [-1], ['why', -0.5]] as $args) {
            try {
                new Retry(...$args);
                $this->fail('accepted ' . json_encode($args));
            } catch (\InvalidArgumentException $e) {
                $this->assertNotSame('', $e->getMessage());
            }
        }
    }

    public function testExamplesAnswerLikeThePythonWorker(): void
    {
        $this->assertSame(['echo' => 'hi'], Examples::echoMessage(['message' => 'hi']));
        $this->assertSame(['text' => 'HELLO'], Examples::uppercase(['text' => 'hello']));
        $this->assertSame(['sum' => 5], Examples::add(['a' => 2, 'b' => 3]));
        $this->assertSame(['sum' => 6.5], Examples::add(['numbers' => [1, 2.5, 3]]));
        $this->assertSame(['slept_seconds' => 0], Examples::sleep(['seconds' => 0], new TaskContext($this->task(), 'w')));
    }

    public function testExamplesRefuseBadParamsForGood(): void
    {
        foreach ([
            function () { Examples::uppercase(['text' => 3]); },
            function () { Examples::add(['a' => 1, 'b' => '2']); },
            function () { Examples::add(['a' => true, 'b' => 2]); },
            function () { Examples::sleep(['seconds' => -1], new TaskContext($this->task(), 'w')); },
            function () { Examples::error(['permanent' => true]); },
        ] as $call) {
            try {
                $call();
                $this->fail('no PermanentError');
            } catch (PermanentError $e) {
                $this->assertNotSame('', $e->getMessage());
            }
        }
    }

    public function testExampleErrorChoosesRetryOrPlainFailure(): void
    {
        try {
            Examples::error(['message' => 'later', 'retry_delay_seconds' => 7]);
            $this->fail('no Retry');
        } catch (Retry $e) {
            $this->assertSame('later', $e->getMessage());
            $this->assertSame(7.0, $e->delaySeconds);
        }
        $this->expectException(RuntimeException::class);
        $this->expectExceptionMessage('example.error failed on purpose');
        Examples::error([]);
    }

    public function testContextReadsTheLeaseAndBeatsAThirdOfIt(): void
    {
        $ctx = new TaskContext($this->task(), 'w1');
        $this->assertSame(2, $ctx->attempt);
        $this->assertSame(3, $ctx->maxAttempts);
        $this->assertEqualsWithDelta(1.0, $ctx->interval, 0.001);
        $this->assertSame(60.0, TaskContext::leaseSeconds(['claimed_at' => 'garbage', 'lease_expires_at' => 'x']));
    }

    public function testContextSendsOnlyWhenABeatIsDue(): void
    {
        $beats = [];
        $ctx = new TaskContext($this->task(['lease_expires_at' => '2025-11-07T18:00:00.600000Z']), 'w1', function ($progress, $message) use (&$beats) {
            $beats[] = [$progress, $message];
        });
        $ctx->heartbeat();
        $this->assertSame([], $beats, 'nothing is due right after the claim');
        usleep((int) ($ctx->interval * 1000000) + 20000);
        $ctx->heartbeat();
        $this->assertSame([[null, null]], $beats);
        $ctx->progress(150, 'past the end');
        $ctx->progress(40, 'chatty');
        $this->assertCount(1, $beats, 'progress waits for the gap after a beat');
        usleep((int) (TaskContext::PROGRESS_MIN_GAP_SECONDS * 1000000) + 20000);
        $ctx->heartbeat();
        $this->assertSame([40.0, 'chatty'], $beats[1], 'the latest progress goes with the next beat');
    }

    public function testContextRaisesForADroppedTaskEveryTime(): void
    {
        $ctx = new TaskContext($this->task(['lease_expires_at' => '2025-11-07T18:00:00.300000Z']), 'w1', function () {
            throw new TaskManagerException('task_cancelled', 'the task was cancelled', 409);
        });
        usleep((int) ($ctx->interval * 1000000) + 20000);
        foreach ([1, 2] as $_) {
            try {
                $ctx->heartbeat();
                $this->fail('no exception');
            } catch (TaskManagerException $e) {
                $this->assertSame('task_cancelled', $e->getErrorCode());
            }
        }
        $this->assertTrue($ctx->isDropped());
    }

    public function testResultObjects(): void
    {
        $this->assertSame([], TaskRun::resultObject(null));
        $this->assertSame(['a' => 1], TaskRun::resultObject(['a' => 1]));
        $this->assertSame(['value' => [1, 2]], TaskRun::resultObject([1, 2]));
        $this->assertSame(['value' => 'done'], TaskRun::resultObject('done'));
        $object = new stdClass();
        $object->b = 2;
        $this->assertSame(['b' => 2], TaskRun::resultObject($object));
    }

    public function testBackoffDoublesWithinItsJitterAndCap(): void
    {
        $this->assertSame(0.5, Backoff::delay(0, 1.0, 30.0, 0.0));
        $this->assertSame(6.0, Backoff::delay(2, 1.0, 30.0, 1.0));
        $this->assertSame(45.0, Backoff::delay(20, 1.0, 30.0, 1.0));
        for ($attempt = 0; $attempt < 8; $attempt++) {
            $delay = Backoff::delay($attempt);
            $nominal = min(30.0, pow(2, $attempt));
            $this->assertGreaterThanOrEqual(0.5 * $nominal, $delay);
            $this->assertLessThanOrEqual(1.5 * $nominal, $delay);
        }
    }

    public function testErrorCounterGivesUpAtTheLimitAndResetsOnSuccess(): void
    {
        $counter = new ErrorCounter(3);
        $counter->failure('a');
        $counter->failure('b');
        $counter->success();
        $counter->failure('c');
        $counter->failure('d');
        $this->expectException(TooManyErrors::class);
        $this->expectExceptionMessage('giving up after 3 consecutive API errors; last: e');
        $counter->failure('e');
    }

    public function testErrorTextIsWhatTheApiTakes(): void
    {
        $this->assertSame('plain error', Api::errorText('plain error'));
        $this->assertSame("a\u{FFFD}b\u{FFFD}", Api::errorText("a\0b\0"));
        $this->assertSame("bad \u{FFFD} byte", Api::errorText("bad \xC3 byte"));
        $this->assertSame("{\"error\":\"\u{FFFD}\u{FFFD}\"}", WorkerClient::encode(['error' => Api::errorText("\xFF\0")]));
    }

    public function testLongErrorsKeepTheFirst65536CharactersWhole(): void
    {
        $this->assertSame(65536, Api::MAX_ERROR_LENGTH);
        $ascii = str_repeat('x', 70000);
        $this->assertSame(str_repeat('x', 65536), Api::errorText($ascii));
        // Two, three and four bytes a character: cut after the 65,536th, never inside one.
        foreach (["\u{E9}", "\u{20AC}", "\u{1F600}"] as $character) {
            $trimmed = Api::errorText('ab' . str_repeat($character, 70000));
            $this->assertSame('ab' . str_repeat($character, 65534), $trimmed);
            $this->assertSame(1, preg_match('//u', $trimmed));
        }
        $exact = str_repeat("\u{E9}", 65536);
        $this->assertSame($exact, Api::errorText($exact));
        $nul = str_repeat("\0", 70000);
        $this->assertSame(str_repeat("\u{FFFD}", 65536), Api::errorText($nul));
    }
}
