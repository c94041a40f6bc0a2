import { Controller, Get, Inject, Post, UseInterceptors } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../../auth/auth-context.js';
import { RequestAuth } from '../../auth/request-auth.decorator.js';
import { FormOrQuery } from '../../common/body.js';
import { HttpAnswer } from '../../common/http-answer.js';
import { HttpAnswerInterceptor } from '../../common/http-answer.interceptor.js';
import { SearchService } from '../search.service.js';

/** GET with query parameters, or POST with the same parameters as a form, like Ditto. */
@ApiTags('Things-Search')
@Controller('api/2/search/things')
@UseInterceptors(HttpAnswerInterceptor)
export class SearchController {
  constructor(@Inject(SearchService) private readonly searchService: SearchService) {}

  @Get()
  @ApiOperation({ summary: 'Search things with an RQL filter; page with option=cursor(...)' })
  @ApiQuery({
    name: 'filter',
    required: false,
    description: 'RQL, e.g. and(eq(attributes/a,1),gt(_modified,"2024-01-01T00:00:00Z"))',
  })
  @ApiQuery({ name: 'option', required: false, description: 'sort(+a,-b),size(n),cursor(c)' })
  @ApiQuery({ name: 'fields', required: false })
  @ApiQuery({ name: 'namespaces', required: false })
  async search(
    @FormOrQuery() params: Record<string, string>,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    return HttpAnswer.ok(await this.searchService.search(params, auth));
  }

  @Post()
  @ApiOperation({ summary: 'Search things; the parameters as an application/x-www-form-urlencoded body' })
  searchForm(
    @FormOrQuery() params: Record<string, string>,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    return this.search(params, auth);
  }

  @Get('count')
  @ApiOperation({ summary: 'Count things matching an RQL filter; answers a bare integer' })
  @ApiQuery({ name: 'filter', required: false })
  @ApiQuery({ name: 'namespaces', required: false })
  async count(
    @FormOrQuery() params: Record<string, string>,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    return HttpAnswer.ok(await this.searchService.count(params, auth));
  }

  @Post('count')
  @ApiOperation({ summary: 'Count things; the parameters as an application/x-www-form-urlencoded body' })
  countForm(
    @FormOrQuery() params: Record<string, string>,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    return this.count(params, auth);
  }
}
