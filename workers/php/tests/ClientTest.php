<?php

use PHPUnit\Framework\TestCase;

final class ClientTest extends TestCase
{
    public function testErrorAnswerKeepsCodeStatusAndDetails(): void
    {
        $error = WorkerClient::errorFrom(409, ['error' => 'lease_lost', 'message' => 'the lease was lost', 'details' => ['task_id' => 't1']]);
        $this->assertSame('lease_lost', $error->getErrorCode());
        $this->assertSame(409, $error->getStatus());
        $this->assertSame(['task_id' => 't1'], $error->getDetails());
        $this->assertSame('the lease was lost', $error->getMessage());
        $this->assertTrue($error->isDropped());
        $this->assertFalse($error->isTransient());
    }

    public function testAnswersWithoutAnErrorBodyGetACodeByStatus(): void
    {
        $this->assertSame('unavailable', WorkerClient::errorFrom(503, null, '')->getErrorCode());
        $this->assertTrue(WorkerClient::errorFrom(503, null, '')->isTransient());
        $this->assertTrue(WorkerClient::errorFrom(429, null, '')->isTransient());
        $gateway = WorkerClient::errorFrom(502, null, '<html>Bad Gateway</html>');
        $this->assertSame('server_error', $gateway->getErrorCode());
        $this->assertTrue($gateway->isTransient());
        $this->assertStringContainsString('HTTP 502: <html>Bad Gateway', $gateway->getMessage());
        $this->assertFalse(WorkerClient::errorFrom(422, ['error' => 'validation_error', 'message' => 'bad'])->isTransient());
    }

    public function testNetworkErrorsAreTransient(): void
    {
        $error = new TaskManagerNetworkException('unavailable', 'cannot reach', 0);
        $this->assertTrue($error->isTransient());
        $this->assertInstanceOf(TaskManagerException::class, $error);
    }

    public function testEmptyParamsAreSentAsAnObject(): void
    {
        $this->assertSame('{"type":"x","params":{}}', WorkerClient::encode(['type' => 'x', 'params' => WorkerClient::object([])]));
        $this->assertSame('{"a":1.0,"url":"http://h/p","text":"é"}', WorkerClient::encode(['a' => 1.0, 'url' => 'http://h/p', 'text' => 'é']));
    }

    public function testInvalidUtf8IsRefusedBeforeSending(): void
    {
        $this->expectException(TaskManagerException::class);
        $this->expectExceptionMessage('cannot encode the request as JSON');
        WorkerClient::encode(['text' => "\xB1\x31"]);
    }

    public function testLongPollTimeoutOutlastsTheWait(): void
    {
        $client = new WorkerClient('http://127.0.0.1:9/api', ['timeout' => 5]);
        $this->assertGreaterThan(30.0, $client->waitTimeout(30.0));
        $this->assertGreaterThanOrEqual(5.0, $client->waitTimeout(0.0));
    }

    public function testUnreachableApiIsANetworkError(): void
    {
        $client = new WorkerClient('http://127.0.0.1:9/api/', ['timeout' => 2]);
        $this->assertSame('http://127.0.0.1:9/api', $client->getApiUrl());
        try {
            $client->health();
            $this->fail('no exception');
        } catch (TaskManagerNetworkException $e) {
            $this->assertSame('unavailable', $e->getErrorCode());
            $this->assertSame(0, $e->getStatus());
            $this->assertStringContainsString('cannot reach http://127.0.0.1:9/api', $e->getMessage());
        }
    }
}
